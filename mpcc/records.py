"""The records the CLI prints with ``--json`` and the explorer serves: jobs, results, members, audits.

Each function reads the chain through the typed clients and returns a
JSON-friendly value; ``mpcc job status --json`` prints ``job_status`` and the
explorer's ``/api/jobs/N`` returns the same dict, so the two never drift.
"""

from __future__ import annotations

import json
from typing import Any

from offchain.analytics import registry
from offchain.errors import ConfigError
from onchain.abi import audit_trail, job_manager
from onchain.abi.job_manager import JobFinalised, JobProposed
from onchain.abi.preprocessing_ledger import TuplesReleased, TuplesReserved
from onchain.deploy import Deployment
from onchain.events import EventBase
from onchain.history import position
from onchain.jobs import Job, JobState
from onchain.registry import Member


def member_json(m: Member) -> dict[str, Any]:
    """One member as ``mpcc org members --json`` lists it."""
    return {"name": m.name, "account": m.account, "endpoint": m.endpoint,
            "tls_fingerprint": "0x" + m.tls_fingerprint.hex(), "status": m.status.name.lower()}


def members(dep: Deployment) -> list[dict[str, Any]]:
    """Every registered member, in registration order (``mpcc org members --json``)."""
    return [member_json(m) for m in dep.registry.members()]


def existing_job(dep: Deployment, job_id: int) -> Job:
    count = dep.jobs.job_count()
    if not 0 < job_id <= count:
        raise ConfigError(f"there is no job {job_id} (jobs 1..{count} exist)" if count else
                          f"there is no job {job_id} (no job was proposed yet)")
    return dep.jobs.job(job_id)


def job_status(dep: Deployment, job_id: int, detail: bool = True, gas: bool = True) -> dict[str, Any]:
    """A job's state and counts; with ``detail`` also its spec, each participant's steps and who declined,
    and with ``gas`` too the gas of its transactions (a receipt read for each)."""
    job = existing_job(dep, job_id)
    participants = dep.jobs.participants(job_id)
    status: dict[str, Any] = {
        "job": job_id, "state": job.state.name.lower(), "abort_reason": job.abort_reason.name.lower(),
        "proposer": job.proposer, "participants": participants,
        "accepted": job.accepted, "committed": job.committed, "submitted": job.submitted,
        "reserved": job.reserved,
        "deadlines": {"accept_by": job.deadlines.accept_by, "commit_by": job.deadlines.commit_by,
                      "result_by": job.deadlines.result_by}, "chain_time": dep.chain.now()}
    if detail:
        spec = proposed_specs(dep).get(job_id, {})
        declined = dep.jobs.declines(job_id, from_block=dep.manifest.deploy_block)
        released = dep.ledger.release_events(job_id, from_block=dep.manifest.deploy_block)
        status.update({"declined": [{"account": d.participant, "name": dep.registry.member(d.participant).name,
                                     "reason": d.reason.name.lower()} for d in declined],
                       "released": sum(e.count for e in released),
                       "named": _named(dep, job_id)})
        if gas:
            status["gas"] = job_gas(job_transactions(dep, job_id))
        status.update({"analysis": spec.get("analysis"), "title": spec.get("title", ""),
                       "malformed": spec.get("malformed"),
                       "reveal": spec.get("reveal", []), "spec_hash": "0x" + job.spec_hash.hex(),
                       "members": [{"account": a, "name": dep.registry.member(a).name,
                                    "accepted": dep.jobs.has_accepted(job_id, a),
                                    "committed": dep.jobs.has_committed(job_id, a)} for a in participants]})
    return status


#: The step a transaction of a job stands for, by the first of its events found here (in this order).
STEPS = ("JobProposed", "JobAccepted", "JobDeclined", "SharesCommitted", "DataPublished", "InputsCommitted",
         "OpeningPublished", "ResultSubmitted", "JobAborted", "TuplesReserved", "TuplesReleased")


def job_events(dep: Deployment, job_id: int) -> list[EventBase]:
    """Every event of the job on JobManager, AuditTrail and PreprocessingLedger, in chain order."""
    start = dep.manifest.deploy_block
    events: list[EventBase] = [*dep.jobs.logs(*job_manager.EVENTS, from_block=start, jobId=job_id),
                               *dep.audit.logs(*audit_trail.EVENTS, from_block=start, jobId=job_id),
                               *dep.ledger.logs(TuplesReserved, TuplesReleased, from_block=start, jobId=job_id)]
    return sorted(events, key=position)


def job_transactions(dep: Deployment, job_id: int) -> list[dict[str, Any]]:
    """The job's transactions in chain order: hash, step, events, sender, gas used and block."""
    by_tx: dict[str, list[EventBase]] = {}
    for e in job_events(dep, job_id):
        by_tx.setdefault(e.tx_hash, []).append(e)
    rows = []
    for tx, events in by_tx.items():
        facts = dep.chain.tx_facts(tx)
        found = [e.event_name for e in events]
        rows.append({"tx": tx, "step": next((s for s in STEPS if s in found), found[0]), "events": found,
                     "sender": facts.sender, "gas_used": facts.gas_used, "block": facts.block_number,
                     "first_block": events[0].block_number})
    return rows


def job_gas(transactions: list[dict[str, Any]]) -> dict[str, Any]:
    """The gas the job's transactions used: in all, by step, and how many transactions."""
    by_step: dict[str, int] = {}
    for tx in transactions:
        by_step[tx["step"]] = by_step.get(tx["step"], 0) + tx["gas_used"]
    return {"total": sum(by_step.values()), "transactions": len(transactions), "by_step": by_step}


def _named(dep: Deployment, job_id: int) -> list[dict[str, Any]]:
    """Each participant named at fault in the job, with the members that named it (in report order)."""
    named: dict[str, list[str]] = {}
    for e in dep.jobs.cheater_reports(job_id, from_block=dep.manifest.deploy_block):
        named.setdefault(e.accused, [])
        if e.reporter not in named[e.accused]:
            named[e.accused].append(e.reporter)
    return [{"account": a, "name": dep.registry.member(a).name,
             "by": [dep.registry.member(r).name for r in by]} for a, by in named.items()]


def job_list(dep: Deployment) -> list[dict[str, Any]]:
    """Every job on chain: id, analysis, title, proposer and state."""
    jobs = []
    for job_id, spec in proposed_specs(dep).items():
        job = dep.jobs.job(job_id)
        jobs.append({"job": job_id, "analysis": spec.get("analysis"), "title": spec.get("title", ""),
                     "proposer": job.proposer, "participants": len(spec.get("participants", [])),
                     "state": job.state.name.lower(), "abort_reason": job.abort_reason.name.lower(),
                     "malformed": spec["malformed"]})
    return jobs


def job_result(dep: Deployment, job_id: int) -> dict[str, Any]:
    """The finalised result (from the JobFinalised event); ConfigError if not finalised."""
    status = job_status(dep, job_id, gas=False)
    if status["state"] != JobState.FINALISED.name.lower():
        why = f" ({status['abort_reason']})" if status["state"] == "aborted" else ""
        raise ConfigError(f"job {job_id} is {status['state']}{why}, not finalised: it has no result")
    final = dep.jobs.logs(JobFinalised, from_block=dep.manifest.deploy_block, jobId=job_id)
    try:
        result = json.loads(final[0].result)
    except ValueError as err:
        raise ConfigError(f"job {job_id} was finalised with a result that is not JSON ({err}); every "
                          "participant posted these bytes, so its peers did not run this version of mpcc") from err
    return {"job": job_id, "analysis": status["analysis"], "title": status["title"], "result": result,
            "result_hash": "0x" + final[0].resultHash.hex()}


def proposed_specs(dep: Deployment) -> dict[int, dict[str, Any]]:
    """What each job's spec shows (registry.described: a malformed one says so) from its JobProposed event."""
    return {e.jobId: registry.described(e.spec)
            for e in dep.jobs.logs(JobProposed, from_block=dep.manifest.deploy_block)}
