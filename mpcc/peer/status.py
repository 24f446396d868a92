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
from offchain.preprocessing.cache import TupleCache
from onchain.abi.job_manager import JobProposed
from onchain.deploy import Deployment

STALE_S = 10.0
MALFORMED = "malformed"
_TEXT_FIELDS = ("analysis", "title", "column", "label", "group_by")


def read_spec(text: str) -> dict[str, Any] | None:
    """A proposed job's spec as a JSON object for display, or None if it is malformed.

    The contract takes any string as a spec, so one member's bad spec must not stop
    anyone from reading the other jobs: it is shown as malformed, and peers decline it.
    """
    try:
        spec = json.loads(text)
    except ValueError:
        return None
    if not isinstance(spec, dict):
        return None
    texts = [spec.get(k) for k in _TEXT_FIELDS]
    lists = [spec.get(k, []) for k in ("columns", "reveal", "participants")]
    if not all(v is None or isinstance(v, str) for v in texts) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists):
        return None
    return spec


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
        spec = read_spec(event.spec)
        if spec is None:
            found.append({"job": job_id, "analysis": MALFORMED, "title": "", "column": None, "columns": [],
                          "state": job.state.name.lower(), "abort_reason": job.abort_reason.name.lower(),
                          "local": local.get(str(job_id), "")})
            continue
        columns = [spec["column"]] if spec.get("column") else list(spec.get("columns", []))
        columns += [spec[k] for k in ("label", "group_by") if spec.get(k)]
        found.append({"job": job_id, "analysis": spec.get("analysis"), "title": spec.get("title", ""),
                      "column": spec.get("column"), "columns": columns,
                      "state": job.state.name.lower(), "abort_reason": job.abort_reason.name.lower(),
                      "local": local.get(str(job_id), "")})
    return found
