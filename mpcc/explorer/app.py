"""The explorer's web application: HTML pages, the JSON API and server-sent events, over one deployment.

Pages render on the server (Jinja2 templates and inline SVG plots from this
package), so they work without JavaScript; ``static/live.js`` only refreshes a
page when the chain says something changed. The JSON API returns what the
CLI's ``--json`` prints for the same thing (``mpcc.records``, the audit's
``as_dict``). Chain reads run on worker threads (Starlette runs the plain
endpoints in its thread pool) and are cached until the next block.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from mpcc import records
from mpcc.audit.record import audit_job
from mpcc.explorer import chaindata, plots
from offchain.errors import ConfigError, MpccError
from onchain.abi import audit_trail, job_manager, org_registry, preprocessing_ledger
from onchain.deploy import Deployment
from onchain.jobs import JobState

HERE = Path(__file__).parent
T = TypeVar("T")
#: Seconds between two reads of the chain's head by the live updates (logs are read only on a new block).
POLL_S = 1.0
#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE_S = 15.0


class Explorer:
    """The deployment and a cache of what was read from it, valid until the chain's head moves."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], tuple[int, Any]] = {}

    def cached(self, key: tuple[Any, ...], read: Callable[[], T], fresh: bool = False) -> T:
        """``read()`` once per block (one read at a time: the chain client and its log cache are shared)."""
        with self._lock:
            head = self.dep.chain.head()
            hit = self._cache.get(key)
            if hit is not None and hit[0] == head and not fresh:
                return hit[1]  # type: ignore[no-any-return]
            value = read()
            self._cache[key] = (head, value)
            return value

    def audit(self, job_id: int, fresh: bool = False) -> dict[str, Any]:
        """``mpcc audit JOB --json`` of the job, re-run when ``fresh`` or on a new block."""
        def run() -> dict[str, Any]:
            try:
                return audit_job(self.dep, job_id).as_dict()
            except LookupError as err:
                raise ConfigError(str(err)) from err
        return self.cached(("audit", job_id), run, fresh)

    def events_between(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Every event of the deployment's contracts in blocks ``start..stop``, in short."""
        found = []
        for client, events in ((self.dep.registry, org_registry.EVENTS), (self.dep.jobs, job_manager.EVENTS),
                               (self.dep.ledger, preprocessing_ledger.EVENTS), (self.dep.audit, audit_trail.EVENTS)):
            for e in client.logs(*events, from_block=start, to_block=stop):
                found.append({"contract": client.NAME, "event": e.event_name, "block": e.block_number,
                              "job": getattr(e, "jobId", None)})
        return found


class ChainWatch:
    """Follows the chain's head and tells every open event stream about each new block's events."""

    #: How many past notices a slow stream may still catch up on.
    KEEP = 64

    def __init__(self, explorer: Explorer, poll_s: float) -> None:
        self.explorer, self.poll_s = explorer, poll_s
        self.seq, self.head = 0, 0
        self.notices: deque[tuple[int, str]] = deque(maxlen=self.KEEP)
        self.tick = asyncio.Event()

    async def run(self) -> None:
        chain = self.explorer.dep.chain
        self.head = await anyio.to_thread.run_sync(chain.head)
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                head = await anyio.to_thread.run_sync(chain.head)
                if head <= self.head:
                    continue
                events = await anyio.to_thread.run_sync(self.explorer.events_between, self.head + 1, head)
            except MpccError:  # The node is away: try again at the next poll.
                continue
            self.head, self.seq = head, self.seq + 1
            self.notices.append((self.seq, json.dumps({"block": head, "events": events})))
            # Wake every stream waiting on the old event; later waits take the new one.
            tick, self.tick = self.tick, asyncio.Event()
            tick.set()

    async def stream(self) -> AsyncIterator[str]:
        """Server-sent events: ``chain`` with each new head and its events; comments keep the line open."""
        seen = self.seq
        yield f"retry: 3000\nevent: hello\ndata: {json.dumps({'block': self.head})}\n\n"
        while True:
            fresh = [(seq, data) for seq, data in self.notices if seq > seen]
            if not fresh:
                try:
                    await asyncio.wait_for(self.tick.wait(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                continue
            for seq, data in fresh:
                seen = seq
                yield f"event: chain\ndata: {data}\n\n"


def create_app(dep: Deployment, poll_s: float = POLL_S) -> Starlette:
    """The explorer over ``dep``: pages, ``/api/...``, ``/events`` and ``/static``."""
    explorer = Explorer(dep)
    watch = ChainWatch(explorer, poll_s)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(utc=chaindata.utc, short=_short)

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        return templates.TemplateResponse(request, name, {"head": dep.chain.head(), **context},
                                          status_code=status_code)

    def guarded(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            try:
                return handler(request)
            except ConfigError as err:
                if request.url.path.startswith("/api/"):
                    return JSONResponse({"error": str(err)}, status_code=404)
                return page(request, "error.html", message=str(err), status_code=404)
        return run

    def number(request: Request, name: str) -> int:
        try:
            return int(request.path_params.get(name) or request.query_params.get(name) or 0)
        except ValueError as err:
            raise ConfigError(f"{name} must be a number") from err

    def consortium_data(request: Request) -> dict[str, Any]:
        block = number(request, "block") or None
        return explorer.cached(("consortium", block), lambda: chaindata.consortium(dep, block))

    def jobs_data(request: Request) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows = explorer.cached(("jobs",), lambda: chaindata.job_rows(dep))
        who = explorer.cached(("names",), lambda: chaindata.names(dep))
        q = request.query_params
        return rows, chaindata.filter_jobs(rows, q.get("state", ""), q.get("analysis", ""),
                                           q.get("participant", ""), q.get("since", ""), q.get("until", ""), who)

    def consortium(request: Request) -> Response:
        return page(request, "consortium.html", c=consortium_data(request))

    def jobs(request: Request) -> Response:
        rows, shown = jobs_data(request)
        analyses = sorted({r["analysis"] or "malformed" for r in rows})
        return page(request, "jobs.html", jobs=shown, total=len(rows), analyses=analyses, q=request.query_params,
                    states=[s.name.lower() for s in JobState if s.name != "NONE"])

    def job(request: Request) -> Response:
        job_id = number(request, "job")
        data = explorer.cached(("job", job_id), lambda: chaindata.job_page(dep, job_id))
        audit = explorer.audit(job_id, fresh=request.query_params.get("rerun") == "1")
        who = explorer.cached(("names",), lambda: chaindata.names(dep))
        public = any(c["check"].startswith("public: ") for c in audit["checks"])
        return page(request, "job.html", j=data, s=data["status"], audit=audit, who=who, public=public)

    def preprocessing(request: Request) -> Response:
        data = explorer.cached(("preprocessing",), lambda: chaindata.preprocessing(dep))
        return page(request, "preprocessing.html", p=data)

    def plot_page(request: Request) -> Response:
        data = explorer.cached(("plots",), lambda: chaindata.plot_series(dep))
        return page(request, "plots.html", svgs=_svgs(data))

    def api_members(request: Request) -> Response:
        return JSONResponse(explorer.cached(("members",), lambda: records.members(dep)))

    def api_consortium(request: Request) -> Response:
        return JSONResponse(consortium_data(request))

    def api_jobs(request: Request) -> Response:
        _, shown = jobs_data(request)
        keys = ("job", "analysis", "title", "proposer", "participants", "state", "abort_reason", "malformed")
        return JSONResponse([{k: r[k] for k in keys} for r in shown])

    def api_job(request: Request) -> Response:
        job_id = number(request, "job")
        return JSONResponse(explorer.cached(("status", job_id), lambda: records.job_status(dep, job_id)))

    def api_result(request: Request) -> Response:
        job_id = number(request, "job")
        return JSONResponse(explorer.cached(("result", job_id), lambda: records.job_result(dep, job_id)))

    def api_audit(request: Request) -> Response:
        return JSONResponse(explorer.audit(number(request, "job"), request.query_params.get("rerun") == "1"))

    def api_timeline(request: Request) -> Response:
        job_id = number(request, "job")
        return JSONResponse(explorer.cached(("timeline", job_id), lambda: chaindata.timeline(dep, job_id)))

    def api_preprocessing(request: Request) -> Response:
        return JSONResponse(explorer.cached(("preprocessing",), lambda: chaindata.preprocessing(dep)))

    def api_plots(request: Request) -> Response:
        return JSONResponse(explorer.cached(("plots",), lambda: chaindata.plot_series(dep)))

    async def events(request: Request) -> Response:
        return StreamingResponse(watch.stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(watch.run())
        try:
            yield
        finally:
            task.cancel()

    plain = [("/", consortium), ("/jobs", jobs), ("/jobs/{job:int}", job), ("/preprocessing", preprocessing),
             ("/plots", plot_page), ("/api/members", api_members), ("/api/consortium", api_consortium),
             ("/api/jobs", api_jobs), ("/api/jobs/{job:int}", api_job), ("/api/jobs/{job:int}/result", api_result),
             ("/api/jobs/{job:int}/audit", api_audit), ("/api/jobs/{job:int}/timeline", api_timeline),
             ("/api/preprocessing", api_preprocessing), ("/api/plots", api_plots)]
    routes: list[Route | Mount] = [Route(path, guarded(handler)) for path, handler in plain]
    routes += [Route("/events", events), Mount("/static", StaticFiles(directory=HERE / "static"), name="static")]
    return Starlette(routes=routes, lifespan=lifespan)


def _short(text: str, keep: int = 10) -> str:
    """A long hex string cut to its start and end: ``0x12345678…abcd``."""
    return text if len(text) <= keep + 6 else f"{text[:keep]}…{text[-4:]}"


def _svgs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The plots page's figures: (anchor, svg)."""
    jobs = data["jobs"]
    labels = [f"job {j['job']}" for j in jobs]
    steps = list(dict.fromkeys(s for j in jobs for s in j["gas_by_step"]))
    closed = [j for j in jobs if j["latency_s"] is not None]
    return [
        ("gas", plots.bar_chart("Gas per job", [(label, j["gas"]) for label, j in zip(labels, jobs, strict=True)])),
        ("gas-steps", plots.stacked_chart("Gas per job and step", labels,
                                          {s: [j["gas_by_step"].get(s, 0) for j in jobs] for s in steps})),
        ("latency", plots.bar_chart("Job latency, proposal to close (s)",
                                    [(f"job {j['job']}", j["latency_s"]) for j in closed])),
        ("tuples", plots.bar_chart("Tuples consumed per job",
                                   [(label, j["tuples"]) for label, j in zip(labels, jobs, strict=True)])),
        ("members", plots.step_chart("Active members over time",
                                     [(f"#{p['block']}", p["active"]) for p in data["members"]])),
    ]


def serve(dep: Deployment, host: str, port: int, poll_s: float = POLL_S) -> None:
    """Serve the explorer with uvicorn until stopped (Ctrl-C or SIGTERM)."""
    config = uvicorn.Config(create_app(dep, poll_s), host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=2, lifespan="on")
    uvicorn.Server(config).run()
