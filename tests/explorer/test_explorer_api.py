"""The explorer's JSON API and its parts on the in-process chain, without a browser.

One consortium in this process runs a plain mean job; the explorer's
application is served by uvicorn on a thread, and its routes are read over
HTTP and compared with the records the CLI prints (mpcc.records).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from harness.nodes import free_port
from mpcc import orgs, records
from mpcc.demo.local import LocalConsortium
from mpcc.explorer import chaindata, plots
from mpcc.explorer.app import create_app
from offchain.analytics import registry
from offchain.auditable import routes

ROOT = Path(__file__).resolve().parents[2]
SECRET = b"explorer api test passphrase"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalConsortium, str, int]]:
    """A consortium with one finalised mean job, and the explorer over it: (consortium, base URL, job)."""
    base = tmp_path_factory.mktemp("explorer-api")
    members = []
    for i, name in enumerate(("Clinic <A>", "Clinic B", "Clinic C")):
        orgs.init(base / f"m{i}", name, f"127.0.0.1:{9650 + i}", SECRET)
        members.append(orgs.load(base / f"m{i}", SECRET))
    incomes = [{"income": ROOT / "examples" / f"incomes_party_{tag}.csv"} for tag in "abc"]
    consortium = LocalConsortium.create(members, incomes, cache_dir=base)
    spec = registry.build_spec(participants=tuple(p.address for p in consortium.peers), analysis="mean",
                               column="income", reveal=("count", "mean"), title="mean <income>")
    consortium.feed(routes.needs(spec))
    job = consortium.propose(spec)
    consortium.run_job(job)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(consortium.dep, poll_s=0.2), host="127.0.0.1", port=port,
                                          log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the explorer did not start"
        time.sleep(0.05)
    yield consortium, f"http://127.0.0.1:{port}", job
    server.should_exit = True
    thread.join(timeout=10)
    consortium.close()


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def test_job_routes_return_the_cli_records(served: tuple[LocalConsortium, str, int]) -> None:
    consortium, url, job = served
    dep = consortium.dep
    shown = get(f"{url}/api/jobs/{job}")
    expected = records.job_status(dep, job)
    assert {k: v for k, v in shown.items() if k != "chain_time"} == {
        k: v for k, v in expected.items() if k != "chain_time"}
    assert shown["state"] == "finalised" and shown["title"] == "mean <income>"
    assert get(f"{url}/api/jobs") == records.job_list(dep)
    assert get(f"{url}/api/jobs/{job}/result") == records.job_result(dep, job)
    assert get(f"{url}/api/members") == records.members(dep)
    audit = get(f"{url}/api/jobs/{job}/audit")
    assert audit["passed"] is True and audit["job_id"] == job


def test_the_timeline_holds_every_transaction_of_the_job_with_its_gas(served: tuple[LocalConsortium, str, int]
                                                                       ) -> None:
    consortium, url, job = served
    timeline = get(f"{url}/api/jobs/{job}/timeline")
    assert [t["step"] for t in timeline].count("ResultSubmitted") == 3
    assert timeline[0]["step"] == "JobProposed" and timeline[0]["sender_name"] == "Clinic <A>"
    for tx in timeline:
        assert tx["gas_used"] == consortium.dep.chain.tx_facts(tx["tx"]).gas_used > 0
    blocks = [t["block"] for t in timeline]
    assert blocks == sorted(blocks)
    # `job status` and `audit` report the same gas, in all and by step.
    gas = {"total": sum(t["gas_used"] for t in timeline), "transactions": len(timeline)}
    for shown in (get(f"{url}/api/jobs/{job}")["gas"], get(f"{url}/api/jobs/{job}/audit")["gas"]):
        assert {k: shown[k] for k in gas} == gas and sum(shown["by_step"].values()) == gas["total"]


def test_an_unknown_job_is_404_on_the_api_and_on_the_page(served: tuple[LocalConsortium, str, int]) -> None:
    _, url, _ = served
    for path, says in (("/api/jobs/99", "there is no job 99"), ("/jobs/99", "there is no job 99"),
                       ("/api/jobs/99/audit", "job 99 has no JobProposed event")):  # As `mpcc audit 99` says.
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + path, timeout=30)
        assert missing.value.code == 404
        assert says in missing.value.read().decode()


def test_pages_escape_names_and_titles(served: tuple[LocalConsortium, str, int]) -> None:
    _, url, job = served
    for path in ("/", f"/jobs/{job}", "/jobs"):
        with urllib.request.urlopen(url + path, timeout=60) as response:
            page = response.read().decode()
        assert "<A>" not in page and "<income>" not in page
        assert "&lt;A&gt;" in page or "&lt;income&gt;" in page


def test_a_new_block_is_sent_to_event_streams_and_refreshes_the_cache(served: tuple[LocalConsortium, str, int]
                                                                       ) -> None:
    consortium, url, _ = served
    dep = consortium.dep
    with urllib.request.urlopen(url + "/events", timeout=30) as stream:
        assert stream.readline() == b"retry: 3000\n" and stream.readline() == b"event: hello\n"
        stream.readline(), stream.readline()
        before = get(f"{url}/api/members")
        peer = consortium.peers[1].org
        dep.registry.rotate_keys(peer.account, "127.0.0.1:9999", peer.identity.tls_fingerprint,
                                 peer.identity.hpke_public)
        lines = [stream.readline(), stream.readline()]
    assert lines[0] == b"event: chain\n"
    data = json.loads(lines[1].removeprefix(b"data: "))
    assert [e["event"] for e in data["events"]] == ["MemberKeysRotated"]
    assert data["events"][0]["contract"] == "OrgRegistry"
    after = get(f"{url}/api/members")
    assert before[1]["endpoint"] != "127.0.0.1:9999" and after[1]["endpoint"] == "127.0.0.1:9999"


def test_filters_take_state_analysis_participant_names_and_dates() -> None:
    rows = [{"job": 1, "state": "finalised", "analysis": "mean", "accounts": ["0xa", "0xb"], "proposed_at": 0},
            {"job": 2, "state": "aborted", "analysis": None, "accounts": ["0xb"], "proposed_at": 86400 * 2}]
    who = {"0xa": "Clinic A", "0xb": "Hospital B"}

    def jobs(**filters: str) -> list[int]:
        return [r["job"] for r in chaindata.filter_jobs(rows, who=who, **filters)]

    assert jobs() == [1, 2]
    assert jobs(state="aborted") == [2]
    assert jobs(analysis="malformed") == [2] and jobs(analysis="mean") == [1]
    assert jobs(participant="clinic") == [1] and jobs(participant="0xB") == [1, 2]
    assert jobs(since="1970-01-02") == [2] and jobs(until="1970-01-02") == [1]


def test_plots_are_svg_with_escaped_labels_and_a_bar_per_value() -> None:
    svg = plots.bar_chart("gas <per> job", [("job 1", 10.0), ("job <2>", 30.0)])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 2 and "job &lt;2&gt;" in svg and "<2>" not in svg
    stacked = plots.stacked_chart("steps", ["job 1"], {"JobProposed": [5.0], "ResultSubmitted": [7.0]})
    assert stacked.count("<rect") == 4  # Two segments and two legend keys.
    assert ">12<" in stacked  # The total above the bar.
    line = plots.step_chart("members", [("#1", 1.0), ("#2", 3.0)])
    assert line.count("<circle") == 2 and "<path" in line
