"""What ``mpcc peer status`` shows: this member's jobs (from the chain), tuple stock, connections.

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

STALE_S = 10.0
def peer_status(config: PeerConfig, dep: Deployment | None) -> dict[str, Any]:
    """The status as one JSON-friendly dict (chain part empty when ``dep`` is None)."""
    public = orgs.PublicEntry.load(config.home / orgs.PUBLIC_FILE)
    daemon = _daemon(config)
    with TupleCache(config.cache_path) as cache:
        stock = cache.stock()
        batches = cache.batches()
    jobs = _jobs(dep, public.account, daemon.get("jobs", {})) if dep is not None else []
    return {
        "name": public.name, "account": public.account, "cache": str(config.cache_path),
        "daemon": {"running": daemon.get("running", False), "pid": daemon.get("pid"),
                   "suspended": daemon.get("suspended", False),
                   "loop": daemon.get("loop", {}), "chain": daemon.get("chain", {}),
                   "listen": daemon.get("listen"), "party": daemon.get("party")},
        "connections": daemon.get("sessions", {}),
        "stock": stock,
        "batches": {"stored": len(batches), "attested": sum(b.attested for b in batches)},
        "jobs": jobs,
    }


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
