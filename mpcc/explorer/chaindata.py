"""What the explorer shows, read from the chain alone: the consortium, jobs, preprocessing and plot series.

Every function takes a ``Deployment`` and returns a JSON-friendly value (the
explorer's pages render it, its JSON API returns it as is). The records the
CLI also prints (``job status``, ``job list``, ``job result``, ``org members``,
``audit``) come from ``mpcc.records`` and ``mpcc.audit``, never from here.
Nothing here holds a key or sends a transaction.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from mpcc import records
from onchain.abi import org_registry
from onchain.abi.job_manager import JobAborted, JobFinalised, JobProposed
from onchain.abi.preprocessing_ledger import (
    BatchCommitted,
    BatchRejected,
    SacrificeAttested,
    TuplesReleased,
    TuplesReserved,
)
from onchain.deploy import Deployment
from onchain.events import EventBase
from onchain.history import RegistrySnapshot, position, replay
from onchain.logcache import cache_of
from onchain.registry import Role


def utc(timestamp: int) -> str:
    """A block timestamp as ``2026-12-06 01:02:03 UTC``."""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def plain(value: Any) -> Any:
    """An event argument as JSON: bytes as 0x-hex, enums by lower-case name, sequences as lists."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def names(dep: Deployment) -> dict[str, str]:
    """Every registered account (lower case) to its organisation's name."""
    return {m.account.lower(): m.name for m in dep.registry.members()}


def _event_rows(events: Sequence[EventBase], times: dict[int, int], who: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for e in sorted(events, key=position):
        args = {k: plain(v) for k, v in e.args().items()}
        named = {k: who.get(str(v).lower(), "") for k, v in args.items() if isinstance(v, str) and v.startswith("0x")}
        rows.append({"block": e.block_number, "time": times.get(e.block_number, 0), "tx": e.tx_hash,
                     "event": e.event_name, "args": args, "names": {k: v for k, v in named.items() if v}})
    return rows


def consortium(dep: Deployment, block: int | None = None) -> dict[str, Any]:
    """Members with their keys, endpoints, roles and status at ``block`` (default: the head), and their history.

    At the head ``members`` is exactly ``mpcc org members --json``; at an earlier
    block it is the registry replayed from its events up to that block.
    """
    head = dep.chain.head()
    at = head if block is None else max(dep.manifest.deploy_block, min(block, head))
    events = dep.registry.logs(*org_registry.EVENTS, from_block=dep.manifest.deploy_block, to_block=head)
    snapshot = replay(events, (at + 1, 0))
    members = records.members(dep) if at == head else [records.member_json(m) for m in snapshot.members.values()]
    roles = {role.name.lower(): sorted(snapshot.roles[role]) for role in Role}
    for m in members:
        m["roles"] = [r for r, holders in roles.items() if m["account"] in holders]
        known = snapshot.members.get(m["account"])
        m["hpke_public_key"] = "0x" + known.hpke_public_key.hex() if known else ""
    times = cache_of(dep.chain).block_times(e.block_number for e in events)
    who = {m["account"].lower(): m["name"] for m in records.members(dep)}
    history = _event_rows([e for e in events if e.block_number <= at], times, who)
    return {"block": at, "head": head, "deploy_block": dep.manifest.deploy_block, "members": members,
            "roles": roles, "sealed": snapshot.sealed, "history": history}


def job_rows(dep: Deployment) -> list[dict[str, Any]]:
    """``mpcc job list --json``, each row with what the filters need: participants' accounts, proposal time."""
    listed = {j["job"]: j for j in records.job_list(dep)}
    proposals = dep.jobs.logs(JobProposed, from_block=dep.manifest.deploy_block)
    times = cache_of(dep.chain).block_times(e.block_number for e in proposals)
    rows = []
    for e in proposals:
        row = dict(listed[e.jobId])
        row["accounts"] = [a.lower() for a in dep.jobs.participants(e.jobId)]
        row["proposed_at"] = times[e.block_number]
        rows.append(row)
    return rows


def filter_jobs(rows: Iterable[dict[str, Any]], state: str = "", analysis: str = "", participant: str = "",
                since: str = "", until: str = "", who: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows that match every filter given: state, analysis, a participant (account or part of its
    name), proposed on or after ``since`` and on or before ``until`` (``YYYY-MM-DD``, UTC)."""
    who = who or {}
    wanted = participant.strip().lower()

    def takes_part(row: dict[str, Any]) -> bool:
        return any(wanted == a or wanted in who.get(a, "").lower() for a in row["accounts"])

    def day(row: dict[str, Any]) -> str:
        return datetime.fromtimestamp(row["proposed_at"], tz=UTC).strftime("%Y-%m-%d")

    return [r for r in rows
            if (not state or r["state"] == state) and (not analysis or (r["analysis"] or "malformed") == analysis)
            and (not wanted or takes_part(r)) and (not since or day(r) >= since) and (not until or day(r) <= until)]


def spec_text(dep: Deployment, job_id: int) -> str:
    """The job's spec as proposed, pretty-printed when it is JSON (a malformed one as it stands)."""
    text = dep.jobs.logs(JobProposed, from_block=dep.manifest.deploy_block, jobId=job_id)[0].spec
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True)
    except ValueError:
        return text


def timeline(dep: Deployment, job_id: int, who: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The job's transactions in chain order (``records.job_transactions``) with the sender's name and time."""
    who = names(dep) if who is None else who
    rows = records.job_transactions(dep, job_id)
    times = cache_of(dep.chain).block_times(row["first_block"] for row in rows)
    return [{"tx": row["tx"], "step": row["step"], "events": row["events"], "sender": row["sender"],
             "sender_name": who.get(row["sender"].lower(), ""), "gas_used": row["gas_used"], "block": row["block"],
             "time": times[row["first_block"]]} for row in rows]


def job_page(dep: Deployment, job_id: int) -> dict[str, Any]:
    """Everything the job page shows but the audit: status (as ``job status --json``), spec, result, timeline."""
    status, steps = records.job_status(dep, job_id, gas=False), timeline(dep, job_id)
    status["gas"] = records.job_gas(steps)  # The receipts are read once, for both.
    result = records.job_result(dep, job_id) if status["state"] == "finalised" else None
    return {"status": status, "spec": spec_text(dep, job_id), "result": result, "timeline": steps}


def preprocessing(dep: Deployment) -> dict[str, Any]:
    """Batches by kind (then in chain order), who committed and attested them, which job consumed which
    range, and the stock left."""
    start, who = dep.manifest.deploy_block, names(dep)
    ledger = dep.ledger.logs(BatchCommitted, SacrificeAttested, BatchRejected, TuplesReserved, TuplesReleased,
                             from_block=start)
    times = cache_of(dep.chain).block_times(e.block_number for e in ledger if isinstance(e, BatchCommitted))
    batches: dict[bytes, dict[str, Any]] = {}
    for e in ledger:
        if isinstance(e, BatchCommitted):
            record = dep.ledger.batch(e.batchId)
            batches[e.batchId] = {
                "batch": "0x" + e.batchId.hex(), "kind": e.kind.name.lower(), "count": e.count,
                "service": e.service, "block": e.block_number, "time": times[e.block_number],
                "status": record.status.name.lower(), "reserved": record.reserved, "available": record.available,
                "attested_by": [], "rejected_by": [], "consumed": []}
        elif isinstance(e, (SacrificeAttested, BatchRejected, TuplesReserved, TuplesReleased)) \
                and e.batchId in batches:
            batch = batches[e.batchId]
            if isinstance(e, SacrificeAttested):
                batch["attested_by"].append(who.get(e.member.lower(), e.member))
            elif isinstance(e, BatchRejected):
                batch["rejected_by"].append(who.get(e.member.lower(), e.member))
            elif isinstance(e, TuplesReserved):
                batch["consumed"].append({"job": e.jobId, "start": e.start, "count": e.count, "released": False})
            elif isinstance(e, TuplesReleased):
                for use in batch["consumed"]:
                    if use["job"] == e.jobId and use["start"] == e.start:
                        use["released"] = True
    stock: dict[str, int] = {}
    for b in batches.values():
        if b["status"] == "committed" and b["attested_by"]:
            stock[b["kind"]] = stock.get(b["kind"], 0) + b["available"]
    by_kind = sorted(batches.values(), key=lambda b: (b["kind"], b["block"]))
    return {"batches": by_kind, "stock": dict(sorted(stock.items()))}


def _closing_times(dep: Deployment) -> dict[int, int]:
    """Each closed job's closing block time (finalised or aborted)."""
    start = dep.manifest.deploy_block
    closed = [(e.jobId, e.block_number) for e in dep.jobs.logs(JobFinalised, from_block=start)]
    closed += [(e.jobId, e.block_number) for e in dep.jobs.logs(JobAborted, from_block=start)]
    times = cache_of(dep.chain).block_times(block for _, block in closed)
    return {job: times[block] for job, block in closed}


def plot_series(dep: Deployment) -> dict[str, Any]:
    """The plots' data: gas per job and per step, latency and tuples consumed per job, members over time."""
    rows, closing = job_rows(dep), _closing_times(dep)
    jobs = []
    for row in rows:
        gas = records.job_gas(records.job_transactions(dep, row["job"]))
        reserved = sum(e.count for e in dep.ledger.logs(TuplesReserved, from_block=dep.manifest.deploy_block,
                                                         jobId=row["job"]))
        released = sum(e.count for e in dep.ledger.release_events(row["job"], dep.manifest.deploy_block))
        end = closing.get(row["job"])
        jobs.append({"job": row["job"], "state": row["state"], "gas": gas["total"], "gas_by_step": gas["by_step"],
                     "latency_s": None if end is None else end - row["proposed_at"],
                     "tuples": reserved - released})
    return {"jobs": jobs, "members": members_over_time(dep)}


def members_over_time(dep: Deployment) -> list[dict[str, Any]]:
    """The number of active members after each registry event that changed it, with its block time."""
    events = dep.registry.logs(*org_registry.EVENTS, from_block=dep.manifest.deploy_block)
    times = cache_of(dep.chain).block_times(e.block_number for e in events)
    points: list[dict[str, Any]] = []
    snapshot = RegistrySnapshot(dep.manifest.deploy_block)
    for e in sorted(events, key=position):
        snapshot.apply(e)
        active = sum(1 for m in snapshot.members.values() if m.active)
        if not points or points[-1]["active"] != active:
            points.append({"block": e.block_number, "time": times[e.block_number], "active": active})
    return points

