"""An analyst (a member) proposes a job and reserves the tuples it will consume.

The reservation plan is made, and checked against the tuples still free in
attested batches, before any transaction: a job that could not be fed is
refused with the kind and number of tuples missing.
"""

from __future__ import annotations

from typing import Sequence

from eth_account.signers.local import LocalAccount

from offchain.analytics.spec import JobSpec
from offchain.errors import TuplesExhausted
from offchain.peer.service import Offer
from offchain.preprocessing.tuples import Needs
from onchain.deploy import Deployment
from onchain.jobs import Deadlines
from onchain.ledger import BatchStatus


def plan_reservations(dep: Deployment, needs: Needs, offers: Sequence[Offer],
                      participants: Sequence[str]) -> list[tuple[bytes, int]]:
    """(batch id, count) pairs covering ``needs`` from batches every participant attested."""
    plan: list[tuple[bytes, int]] = []
    for key, count in needs:
        left = count
        for offer in (o for o in offers if o.key == key):
            if not left:
                break
            batch = dep.ledger.batch(offer.batch_id)
            usable = batch.status is BatchStatus.COMMITTED and all(
                dep.ledger.is_attested(offer.batch_id, p) for p in participants)
            if usable and batch.available:
                take = min(left, batch.available)
                plan.append((offer.batch_id, take))
                left -= take
        if left:
            raise TuplesExhausted(str(key), left, f"{count} needed; ask the preprocessing service for more")
    return plan


def propose_job(dep: Deployment, analyst: LocalAccount, spec: JobSpec, needs: Needs,
                offers: Sequence[Offer], deadlines: Deadlines) -> int:
    """Propose ``spec`` on chain and reserve its tuples; returns the job id."""
    plan = plan_reservations(dep, needs, offers, spec.participants)
    job_id, _ = dep.jobs.propose(analyst, spec.canonical(), list(spec.participants), deadlines)
    for batch_id, count in plan:
        dep.jobs.reserve_tuples(analyst, job_id, batch_id, count)
    return job_id
