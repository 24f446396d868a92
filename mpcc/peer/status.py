"""What ``mpcc peer status`` shows: this member's jobs (from the chain), tuple stock, connections.

The stock counts what a job can take: tuples of batches stored here that
every active member attested on chain and that no job reserved, up to what
the ledger says is still available. Tuples held here but not usable (a batch
another member has not attested, e.g. one dealt before a service restart
that the service no longer serves) are counted apart, as ``held``.

Needs no passphrase: the account comes from ``public.json``, the stock from
the SQLite cache (read beside a running daemon: WAL allows it), and the live
part (sessions, local job states) from the status file the daemon rewrites
every poll; a file older than ``STALE_S`` means the daemon is not running.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mpcc import orgs
from mpcc.peer.config import PeerConfig
from offchain.analytics import registry
from offchain.preprocessing.cache import TupleCache
from onchain.abi.job_manager import JobProposed
from onchain.deploy import Deployment
from onchain.ledger import BatchStatus

STALE_S = 10.0
def peer_status(config: PeerConfig, dep: Deployment | None) -> dict[str, Any]:
    """The status as one JSON-friendly dict (chain part empty when ``dep`` is None)."""
    public = orgs.PublicEntry.load(config.home / orgs.PUBLIC_FILE)
    daemon = _daemon(config)
    with TupleCache(config.cache_path) as cache:
        held = cache.stock()
        unallocated = cache.unallocated()
        batches = cache.batches()
    stock = usable_stock(dep, unallocated) if dep is not None else held
    jobs = _jobs(dep, public.account, daemon.get("jobs", {})) if dep is not None else []
    return {
        "name": public.name, "account": public.account, "cache": str(config.cache_path),
        "tuples": ({"made_by": "members", "make": config.make, "make_for": [str(p) for p in config.make_for]}
                   if config.made_by_members else {"made_by": "service", "service": config.service}),
        "daemon": {"running": daemon.get("running", False), "pid": daemon.get("pid"),
                   "suspended": daemon.get("suspended", False),
                   "loop": daemon.get("loop", {}), "chain": daemon.get("chain", {}),
                   "listen": daemon.get("listen"), "party": daemon.get("party")},
        "connections": daemon.get("sessions", {}),
        "stock": stock,
        "held": held,
        "batches": {"stored": len(batches), "attested": sum(b.attested for b in batches)},
        "jobs": jobs,
    }


def usable_stock(dep: Deployment, unallocated: list[tuple[bytes, str, int]]) -> dict[str, int]:
    """Tuples per key a job can reserve, of the batches stored here (see the module docstring)."""
    group = len(dep.registry.active_members())
    stock: dict[str, int] = {}
    for batch_id, key, left in unallocated:
        batch = dep.ledger.batch(batch_id)
        if batch.status is BatchStatus.COMMITTED and batch.attestations >= group and batch.available:
            stock[key] = stock.get(key, 0) + min(left, batch.available)
    return dict(sorted(stock.items()))


def _daemon(config: PeerConfig) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(config.status_path.read_text())
    except (OSError, ValueError):
        return {}
    data["running"] = time.time() - float(data.get("updated", 0)) < STALE_S
    return data


def _jobs(dep: Deployment, account: str, local: dict[str, str]) -> list[dict[str, Any]]:
    found = []
    for event in dep.jobs.logs(JobProposed, from_block=dep.manifest.deploy_block):
        if account.lower() not in (p.lower() for p in event.participants):
            continue
        job_id = event.jobId
        job = dep.jobs.job(job_id)
        spec = registry.described(event.spec)
        found.append({"job": job_id, "analysis": spec["analysis"], "title": spec["title"],
                      "column": spec["column"], "columns": spec["columns"], "malformed": spec["malformed"],
                      "state": job.state.name.lower(), "abort_reason": job.abort_reason.name.lower(),
                      "local": local.get(str(job_id), "")})
    return found
