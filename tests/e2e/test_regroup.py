"""The members who make their own tuples follow the registry: processes on a Hardhat node.

A group's tuples are authenticated under the sum of its members' MAC key
shares, so they serve that group only. When C is suspended, A's and B's
daemons finish their jobs, put the three's key share and cache aside, and
start again as a group of two: they set LowGear up between them, make
tuples, and a job between A and B is finalised, with no hand on any file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cluster import Cluster, wait_until
from offchain.preprocessing.keyshare import group_id

pytestmark = pytest.mark.hardhat


def test_a_suspension_regroups_the_others_who_make_tuples_and_run_jobs_as_two(e2e_node: str,
                                                                                 tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, e2e_node, made_by_members=True)
    try:
        cluster.form()
        for i in range(3):
            cluster.start_peer(i)
        wait_until("every peer to draw its MAC key share for the three",
                   lambda: all("MAC key share of party" in cluster.log_text(f"peer-{t}") for t in "abc"), 90)
        three = group_id(cluster.accounts).hex()[:16]
        for voter in (0, 1):
            cluster.mpcc("org", "vote", "suspend", cluster.accounts[2], "--home", str(cluster.home(voter)))
        for i, tag in ((0, "a"), (1, "b")):
            wait_until(f"{tag}'s daemon to start again as a group of two", lambda tag=tag: "starts again with the "
                       "group of 2 members" in cluster.log_text(f"peer-{tag}"), 90)
            aside = cluster.cache(i).with_name(f"{cluster.cache(i).name}.group-{three}")
            wait_until(f"{tag}'s cache of the three to be put aside", aside.exists, 30)
        plan = cluster.mpcc_json("job", "plan", "--analysis", "mean", "--column", "income")
        assert plan["participants"] == cluster.accounts[:2]
        wait_until("A and B to make the tuples of a mean job between them", lambda: all(
            all(cluster.stock(i).get(k, 0) >= n for k, n in plan["needs"].items()) for i in (0, 1)), 240)
        job = cluster.propose_mean()
        done = cluster.mpcc_json("job", "result", str(job), "--wait", "--timeout", "120", timeout=200)
        incomes = [float(line.split(",")[-1]) for tag in "ab"
                   for line in (Path(__file__).resolve().parents[2] / "examples" / f"incomes_party_{tag}.csv")
                   .read_text().splitlines()[1:]]
        assert done["result"]["count"] == str(len(incomes))
        assert abs(float(done["result"]["mean"]) - sum(incomes) / len(incomes)) < 1e-3
        assert cluster.alive("peer-c") and "Traceback" not in cluster.log_text("peer-a")
    finally:
        cluster.stop_all()
        cluster.print_log_tails()
