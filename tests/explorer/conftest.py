"""A finished consortium story on `npx hardhat node`, the explorer serving it, and a headless Chromium.

The story is built once per module, through the CLI as users run it
(harness.cluster): three organisations, the preprocessing service and three
peer daemons as processes; a finalised plain job, an auditable mean, an
auditable summary whose record fails the public audit (Party C's peer runs modified code
that publishes a forged transcript before its result: AuditTrail seals a transcript with
its participant's result, so nothing can be forged after the job is decided), a job
aborted because its peers decline it, and a member suspended by the others' votes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from explorer_story import ARTIFACTS, AUDITABLE_MEAN, AUDITABLE_SUMMARY, CHROMEDRIVER, CHROMIUM, UNSERVED, Story
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from harness.cluster import MPCC, PASSPHRASE, Cluster, mean_stock, wait_until
from harness.nodes import free_port
from mpcc import orgs
from onchain.audit_trail import DataKind
from onchain.errors import ContractRevert

FORGING_PEER = Path(__file__).with_name("forging_peer.py")


def _propose(cluster: Cluster, proposer: int, spec: Path) -> int:
    made = cluster.mpcc_json("job", "propose", "--home", str(cluster.home(proposer)), "--service",
                             f"127.0.0.1:{cluster.service_port}", "--spec", str(spec))
    return int(made["job"])


def _wait_closed(cluster: Cluster, job: int) -> str:
    status = cluster.mpcc_json("job", "status", str(job), "--wait", "--timeout", "150", timeout=200)
    return str(status["state"])


@pytest.fixture(scope="module")
def story(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    workdir = tmp_path_factory.mktemp("explorer-story")
    cluster = Cluster(workdir, e2e_node)
    specs = {}
    for name, spec in (("auditable-mean", AUDITABLE_MEAN), ("summary", AUDITABLE_SUMMARY),
                       ("unserved", UNSERVED)):
        specs[name] = workdir / f"{name}.json"
        specs[name].write_text(json.dumps(spec))
    try:
        cluster.form()
        cluster.start("service", "preprocess", "serve", "--test-account-index", "1", "--listen",
                      f"127.0.0.1:{cluster.service_port}", "--stock", mean_stock(), "--poll-s", "0.5",
                      "--stock-for", str(specs["summary"]))
        for i in range(2):
            cluster.start_peer(i)
        cluster.start_peer(2, (sys.executable, str(FORGING_PEER)))
        def stocked_for(name: str) -> None:
            needs = cluster.mpcc_json("job", "plan", "--spec", str(specs[name]))["needs"]
            wait_until(f"the {name}'s tuples at every peer", lambda: all(
                all(cluster.stock(i).get(k, 0) >= n for k, n in needs.items()) for i in range(3)), 120)

        stocked_for("summary")
        finalised = cluster.propose_mean()
        assert _wait_closed(cluster, finalised) == "finalised"
        stocked_for("summary")
        tampered = _propose(cluster, 2, specs["summary"])
        assert _wait_closed(cluster, tampered) == "finalised"
        stocked_for("auditable-mean")
        auditable = _propose(cluster, 1, specs["auditable-mean"])
        assert _wait_closed(cluster, auditable) == "finalised"
        wait_until("stock for a mean again", cluster.stocked, 90)
        aborted = _propose(cluster, 0, specs["unserved"])
        assert _wait_closed(cluster, aborted) == "aborted"
        cluster.stop_all()
        # Once the job is decided, not even its participants can add to the record.
        forger = orgs.load(cluster.home(2), PASSPHRASE.encode())
        with pytest.raises(ContractRevert) as late:
            cluster.dep().audit.publish_data(forger.account, tampered, DataKind.TRANSCRIPT, b"forged later")
        assert late.value.error_name == "WrongJobState"
        suspended = cluster.accounts[2]
        for voter in (0, 1):
            cluster.mpcc("org", "vote", "suspend", suspended, "--home", str(cluster.home(voter)))
        yield Story(cluster, finalised, auditable, tampered, aborted, suspended)
    finally:
        cluster.stop_all()
        cluster.print_log_tails(30)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/members", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def explorer(story: Story) -> Iterator[str]:
    """``mpcc explorer`` over the story's chain, as a process; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = story.cluster.log("explorer").open("ab")
    process = subprocess.Popen([MPCC, "explorer", "--port", str(port), "--poll-s", "0.5"], env=story.cluster.env,
                               cwd=story.cluster.workdir, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    try:
        wait_until("the explorer to answer", lambda: process.poll() is not None or _ready(url), 60)
        assert process.poll() is None, story.cluster.log_text("explorer")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        print("----- explorer.log -----\n" + story.cluster.log_text("explorer")[-3000:])


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    """Headless Chromium from Debian's packages, driven through the system chromedriver (no downloads)."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a driver or a browser.
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
