"""An analyst (a member) proposes a job and reserves the tuples it will consume.

The reservation plan is made, and checked against the tuples still free in
attested batches, before any transaction: a job that could not be fed is
refused with the kind and number of tuples missing. Proposals made at the
same moment (by several members, or several commands of one) can plan the
same free tuples; the one mined second reverts with InsufficientTuples
before it is sent (its gas estimate, which sees pending transactions, fails)
or once mined, and is planned again on what is free then (the same plan
again while the other proposal is still pending), up to
``PROPOSE_ATTEMPTS`` times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Protocol

from eth_account.signers.local import LocalAccount

from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError, TuplesExhausted
from offchain.preprocessing.tuples import Needs, TupleKey
from onchain.deploy import Deployment
from onchain.errors import TransactionFailed
from onchain.jobs import Deadlines
from onchain.ledger import BatchStatus

MAX_RESERVATIONS_PER_TX = 16  # JobManager's bound on reservations in one call
PROPOSE_ATTEMPTS = 12


class Offer(Protocol):
    """A batch the service committed, as its catalogue lists it."""

    @property
    def batch_id(self) -> bytes: ...

    @property
    def key(self) -> TupleKey: ...


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


def require_members(dep: Deployment, spec: JobSpec) -> None:
    """Refuses a spec whose participants are not the active members in registry order (before any transaction).

    Every tuple is authenticated under the MAC key of the whole group that
    holds it (the sum of each member's share): the active members, party i
    the i-th in the registry. A job among some of them, or in another order,
    would fail its first MAC check.
    """
    group = dep.registry.active_members()
    active = [m.account.lower() for m in group]
    outsiders = [p for p in spec.participants if p.lower() not in active]
    if outsiders:
        raise ConfigError(f"participant {outsiders[0]} is not an active member of the consortium: only "
                          "members take part in jobs (see `mpcc org members`); leave it out")
    if [p.lower() for p in spec.participants] != active:
        raise ConfigError("a job's participants are every active member, in the registry's order ("
                          + ", ".join(f"{m.name} {m.account}" for m in group) + "): the tuples are authenticated "
                          "under the MAC key of that whole group, so a job among some of them, or in another "
                          "order, could not run; leave participants out of the spec (they are filled in)")


def propose_job(dep: Deployment, analyst: LocalAccount, spec: JobSpec, needs: Needs,
                offers: Sequence[Offer], deadlines: Deadlines) -> int:
    """Propose ``spec`` and reserve its tuples in the same transaction; returns the job id.

    The proposer must be a participant: only participants reserve tuples, and
    a participant that proposes has accepted by proposing.
    """
    if analyst.address.lower() not in (p.lower() for p in spec.participants):
        raise ConfigError(f"{analyst.address} proposes a job it does not take part in; only "
                          "participants can reserve the job's tuples, so propose as one of them")
    require_members(dep, spec)
    for attempt in range(1, PROPOSE_ATTEMPTS + 1):
        plan = plan_reservations(dep, needs, offers, spec.participants)
        first, rest = plan[:MAX_RESERVATIONS_PER_TX], plan[MAX_RESERVATIONS_PER_TX:]
        try:
            job_id, _ = dep.jobs.propose(analyst, spec.canonical(), list(spec.participants), deadlines, first)
        except dep.ledger.errors.InsufficientTuples as err:
            # Another proposal took some of these tuples first. The node may say so before that proposal
            # is mined (its gas estimate sees pending transactions; the plan reads mined state), so the
            # same plan is tried again too, once the other proposal has had time to be mined.
            if attempt == PROPOSE_ATTEMPTS:
                raise ConfigError(f"other proposals kept taking the free tuples this job planned ({attempt} "
                                  f"plans in a row: {err}); wait for the stock to be refilled (`mpcc peer "
                                  "status`) and propose again") from err
        except TransactionFailed:
            # Mined and reverted: another proposal mined first took the tuples (the plan now differs); a
            # failure for any other reason fails again on the same plan, and is raised.
            if attempt == PROPOSE_ATTEMPTS or plan_reservations(dep, needs, offers, spec.participants) == plan:
                raise
        else:
            break
        time.sleep(random.uniform(0.05, 0.2 * attempt))  # noqa: S311 (a jitter against the other proposers)
    for start in range(0, len(rest), MAX_RESERVATIONS_PER_TX):
        dep.jobs.reserve_batches(analyst, job_id, rest[start:start + MAX_RESERVATIONS_PER_TX])
    return job_id
