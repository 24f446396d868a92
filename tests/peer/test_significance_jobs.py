"""The t-test and the chi-square test end to end on the in-process chain, on the example patient tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpcc import orgs
from mpcc.audit.record import audit_job
from mpcc.demo.local import LocalConsortium
from mpcc.peer.member import JobOutcome
from offchain.analytics import registry
from offchain.auditable import routes
from onchain.jobs import JobState

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ("age", "bmi", "systolic", "smoker", "activity", "risk")


@pytest.fixture
def clinics(members: list[orgs.Org], tmp_path: Path) -> Iterator[LocalConsortium]:
    bindings = [{c: ROOT / "examples" / f"patients_party_{tag}.csv" for c in COLUMNS} for tag in "abc"]
    made = LocalConsortium.create(members, bindings, cache_dir=tmp_path)
    yield made
    made.close()


def test_both_tests_are_finalised_on_chain_with_the_p_values_of_the_example_specs(
        clinics: LocalConsortium) -> None:
    participants = tuple(p.address for p in clinics.peers)
    want = {"t_test": "0.8853894341", "chi_square": "0.8751733190"}  # scipy agrees (test_significance).
    for name, p_value in want.items():
        fields = json.loads((ROOT / "examples" / "specs" / f"{name}.json").read_text())
        spec = registry.build_spec(**fields, participants=participants)
        clinics.feed(routes.needs(spec))
        job_id = clinics.propose(spec)
        outcomes = clinics.run_job(job_id)
        assert all(isinstance(o, JobOutcome) for o in outcomes), outcomes
        result = outcomes[0].result  # type: ignore[union-attr]
        assert all(o.result == result for o in outcomes)  # type: ignore[union-attr]
        assert result["p_value"] == p_value
        assert clinics.dep.jobs.job(job_id).state is JobState.FINALISED
        assert audit_job(clinics.dep, job_id).passed
