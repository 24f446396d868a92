"""An auditable random forest end to end between in-process members on the in-process chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpcc import orgs
from mpcc.audit.record import audit_job
from mpcc.demo.local import LocalConsortium
from mpcc.peer.member import JobOutcome
from offchain import models
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


def test_an_auditable_forest_is_finalised_on_chain_and_passes_the_audit(clinics: LocalConsortium) -> None:
    """The members' path: the coin recorded with the run, the tuples and transcript on chain, the audit."""
    participants = tuple(p.address for p in clinics.peers)
    fields = json.loads((ROOT / "examples" / "specs" / "random_forest.json").read_text())
    # Every tuple is committed and replayed: a smaller forest than the example's keeps the test short.
    spec = registry.build_spec(**{**fields, "params": {"trees": 2, "max_depth": 1}}, participants=participants,
                               auditable=True)
    assert routes.route(spec) is routes.Route.PROGRAM
    clinics.feed(routes.needs(spec))
    job_id = clinics.propose(spec)
    outcomes = clinics.run_job(job_id)
    assert all(isinstance(o, JobOutcome) for o in outcomes), outcomes
    result = outcomes[0].result  # type: ignore[union-attr]
    assert all(o.result == result for o in outcomes)  # type: ignore[union-attr]
    assert clinics.dep.jobs.job(job_id).state is JobState.FINALISED
    assert audit_job(clinics.dep, job_id).passed
    model = models.model_of(spec, result)
    assert isinstance(model, models.RandomForest) and len(model.roots) == 2
