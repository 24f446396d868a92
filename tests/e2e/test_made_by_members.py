"""Three peer daemons, as processes on a Hardhat node, make their own tuples: no service, no dealer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from harness.cluster import Cluster, wait_until
from onchain.abi.preprocessing_ledger import BatchCommitted
from onchain.jobs import JobState

MEAN = {"count": "12", "mean": f"{635000 / 12:.6f}"}


@pytest.fixture(scope="module")
def members(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # Each member's steps (its 64 key candidates, a batch's square roots) take seconds on a shared machine.
    made = Cluster(tmp_path_factory.mktemp("members"), e2e_node, made_by_members=True,
                   settings="timeout_s = 90\nconnect_timeout_s = 20\npoll_s = 0.3\n")
    try:
        made.form()
        for i in range(3):
            made.start_peer(i)
        wait_until("the members to make the tuples of a mean-income job", made.stocked, timeout=300)
        yield made
    finally:
        made.stop_all()
        made.print_log_tails()


def test_the_members_make_their_tuples_and_a_job_on_them_is_finalised_and_audited(members: Cluster) -> None:
    dep = members.dep()
    committed = dep.ledger.logs(BatchCommitted)
    accounts = {a.lower() for a in members.accounts}
    assert committed and {e.service.lower() for e in committed} <= accounts, "only members commit batches"
    assert not members.log("service").exists()  # No service process ever ran.
    for e in committed:
        assert all(dep.ledger.is_attested(e.batchId, a) for a in members.accounts)
    job_id = members.propose_mean()
    state = wait_until(f"job {job_id} to close",
                       lambda: (s := dep.jobs.job(job_id).state) in (JobState.FINALISED, JobState.ABORTED) and s,
                       timeout=120)
    assert state is JobState.FINALISED
    assert members.mpcc_json("job", "result", str(job_id))["result"] == MEAN
    audit = json.loads(members.mpcc("audit", str(job_id), "--json").stdout.strip().splitlines()[-1])
    (tuples,) = [c for c in audit["checks"] if c["check"].startswith("tuples:")]
    assert tuples["passed"] and "made by the members" in tuples["detail"], tuples
    for i in range(3):
        log = members.log_text(f"peer-{'abc'[i]}")
        assert "made by the members, checked, attested and stored" in log
        assert "Traceback" not in log


def test_a_peer_config_names_one_source_of_tuples(members: Cluster) -> None:
    text = members.config(0).read_text()
    both = members.config(0).with_name("both.toml")
    both.write_text(text.replace('accept = "auto"', 'service = "127.0.0.1:9700"\naccept = "auto"'))
    done = members.mpcc("peer", "run", "--config", str(both), check=False)
    assert done.returncode == 2 and "say where the tuples come from, once" in done.stderr, done.stderr
