"""Following long steps from the outside and reporting their phases (mpcc.progress).

A running daemon is watched through its live state (the same dicts ``mpcc peer
status`` reads) and, for jobs under way, the job's state on chain; a job
waited for with ``mpcc job status --wait`` is followed on chain alone. Nothing
here changes what it watches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from mpcc.peer.daemon import Daemon
from mpcc.progress import Reporter
from offchain.errors import MpccError

log = logging.getLogger(__name__)

#: A batch's intake in the daemon: fetch and open the delivery, sacrifice jointly, then stored.
BATCH_STEPS = 3
#: A job in the daemon: accepted, all accepted, connected, inputs, inputs committed, result, finalised.
JOB_STEPS = 6
_JOB_LOCAL = {"proposed": (0, "deciding whether to accept"),
              "awaiting manual acceptance": (0, "waiting for `mpcc job accept`"),
              "accepted": (1, "accepted; waiting for every participant to accept"),
              "connecting": (2, "connecting to the participants")}
_CHAIN_PHASE = {"accepted": (3, "inputs: secret-sharing the data, committing on chain"),
                "inputs_committed": (4, "computing under MPC")}
CLOSED = ("finalised", "aborted")


class JobWaitTimeout(MpccError, TimeoutError):
    """A job did not close while the CLI waited for it (exit 1: nothing is wrong with the input)."""


def batch_phase(state: str, in_sacrifice: bool) -> tuple[int, str] | None:
    """(step, phase) of a batch's intake; None once the intake is over."""
    if state not in ("new", "retrying"):
        return None
    if in_sacrifice:
        return 2, "sacrifice with the group, attesting on chain, storing"
    if state == "retrying":
        return 1, "waiting for every member (retrying)"
    return 1, "fetching, checking against the chain, opening (HPKE)"


def job_phase(local: str, chain_state: str) -> tuple[int, str] | None:
    """(step, phase) of a job in the daemon; None once this peer is done with it."""
    if local in _JOB_LOCAL:
        return _JOB_LOCAL[local]
    if local == "running":
        return _CHAIN_PHASE.get(chain_state, (4, "computing under MPC"))
    if local == "result posted":
        return 5, "result posted; waiting for every participant's result"
    return None


async def watch_daemon(daemon: Daemon, progress: Reporter, every: float = 0.5) -> None:
    """Reports the daemon's batch intakes and jobs until cancelled (a failed look is retried)."""
    shown: set[str] = set()
    while True:
        try:
            running = [j for j, local in list(daemon.jobs.items()) if local == "running"]
            states = {j: (await daemon.peer.chain.run(daemon.dep.jobs.job, j)).state.name.lower() for j in running}
            shown = _report_daemon(daemon, progress, shown, states)
        except Exception as err:
            log.debug("progress: %s", err)
        await asyncio.sleep(every)


def _report_daemon(daemon: Daemon, progress: Reporter, shown: set[str], states: dict[int, str]) -> set[str]:
    """One look at the daemon (``states``: the chain's state of its running jobs); the tasks still shown."""
    now: set[str] = set()
    for name, state in list(daemon.batches.items()):
        phase = batch_phase(state, f"batch {name[:16]}" in daemon.sessions)
        task = f"batch {name[:12]}"
        if phase is not None:
            progress.update(task, phase[1], phase[0], BATCH_STEPS)
            now.add(task)
        elif task in shown:
            progress.finish(task, state)
    for job_id, local in list(daemon.jobs.items()):
        task = f"job {job_id}"
        phase = job_phase(local, states.get(job_id, ""))
        if phase is not None:
            progress.update(task, phase[1], phase[0], JOB_STEPS)
            now.add(task)
        elif task in shown:
            progress.finish(task, local)
    return now


def status_phase(status: dict[str, Any]) -> tuple[int, int, str]:
    """(done, total, phase) of a job from ``records.job_status``: acceptances, commitments, results."""
    n = len(status["participants"])
    done = status["accepted"] + status["committed"] + status["submitted"]
    state = status["state"]
    if state == "proposed":
        phase = f"proposed: {status['accepted']} of {n} accepted"
    elif state == "accepted":
        phase = f"accepted: {status['committed']} of {n} committed their inputs"
    elif state == "inputs_committed":
        phase = f"computing: {status['submitted']} of {n} results posted"
    else:
        phase = state + (f" ({status['abort_reason']})" if state == "aborted" else "")
    return (3 * n if state == "finalised" else done), 3 * n, phase


def wait_for_job(read: Callable[[], dict[str, Any]], timeout: float, progress: Reporter,
                 poll_s: float = 1.0) -> dict[str, Any]:
    """Polls ``read()`` (a job status) until the job is finalised or aborted; the last status.

    Raises ``JobWaitTimeout`` if the job is still open after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        status = read()
        task = f"job {status['job']}"
        done, total, phase = status_phase(status)
        if status["state"] in CLOSED:
            progress.finish(task, phase)
            return status
        progress.update(task, phase, done, total)
        if time.monotonic() > deadline:
            progress.finish(task, phase)
            raise JobWaitTimeout(f"job {status['job']} is still {status['state']} after {timeout:g} s "
                                 "of waiting; wait again, or see `mpcc job status`")
        time.sleep(poll_s)
