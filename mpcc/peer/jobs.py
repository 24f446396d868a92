"""The daemon's jobs: accept by policy, wait for every participant, connect, run; expire the overdue.

A job naming this member is accepted by the configured policy (or waits for
``mpcc job accept``) once this member's data for it validated. A job it
cannot serve (a spec that does not parse, a dataset it does not have, a
column it binds no data to, data that does not validate, a job outside its
accept policy) it declines on chain at once with a reason code, which aborts
the job for everyone and hands its tuples back (``JobManager.decline``);
``mpcc job status`` shows who declined and why. When every participant
accepted, the peer connects to them (roster: the job id as 32 bytes
big-endian) and runs ``MemberPeer.run_job``. A participant that goes silent
is not evidence of cheating: the job is left to expire at its deadline,
which the daemon enforces with ``expire`` for its own jobs. A job found in
progress when the peer starts (it restarted mid-job) cannot be resumed,
since the protocol state was in memory: it is left to expire too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mpcc.peer.channels import Channels, job_tag
from mpcc.peer.config import PeerConfig
from mpcc.peer.member import MemberPeer
from mpcc.peer.pace import Pace
from offchain.analytics.spec import JobSpec
from offchain.errors import ConfigError, MpccError, ProtocolAbort
from offchain.shares import MacKeyShare
from onchain.errors import ChainError
from onchain.jobs import DeclineReason, Job, JobState

log = logging.getLogger("mpcc.peer")
OPEN_STATES = (JobState.PROPOSED, JobState.ACCEPTED, JobState.INPUTS_COMMITTED)
CLOSED_LOCALLY = ("finalised", "aborted")


def deadline_of(job: Job) -> int:
    """The deadline of the job's current step."""
    d = job.deadlines
    return {JobState.PROPOSED: d.accept_by, JobState.ACCEPTED: d.commit_by}.get(job.state, d.result_by)


@dataclass
class Jobs:
    """This member's jobs, with their local state (what ``peer status`` shows)."""

    config: PeerConfig
    peer: MemberPeer
    channels: Channels
    key: Callable[[], MacKeyShare]
    #: The group this member's tuples belong to (accounts in lower case, party order).
    group: list[str] = field(default_factory=list)
    states: dict[int, str] = field(default_factory=dict)

    async def left_over(self, job_ids: list[int]) -> None:
        """Jobs proposed before this peer started: those past proposal are left to expire."""
        for job_id in job_ids:
            state = (await self.peer.chain.run(self.peer.dep.jobs.job, job_id)).state
            if state in (JobState.ACCEPTED, JobState.INPUTS_COMMITTED):
                self.states[job_id] = "left to expire"
                log.warning("job %d: in progress (%s) when this peer started; it cannot be resumed "
                            "and is left to expire at its deadline", job_id, state.name.lower())
            elif state is not JobState.PROPOSED:
                self.states[job_id] = state.name.lower()

    async def expire_overdue(self) -> None:
        """Expires on chain this member's open jobs whose current deadline passed."""
        peer = self.peer
        now = await peer.chain.now()
        for job_id, local in list(self.states.items()):
            if local in CLOSED_LOCALLY:
                continue
            job = await peer.chain.run(peer.dep.jobs.job, job_id)
            if job.state not in OPEN_STATES:
                self.states[job_id] = job.state.name.lower()
                continue
            if now > deadline_of(job):
                try:
                    await peer.chain.run(peer.dep.jobs.expire, peer.org.account, job_id)
                    log.warning("job %d: deadline %d passed in state %s; expired on chain", job_id,
                                deadline_of(job), job.state.name.lower())
                except ChainError as err:
                    log.info("job %d: expire not sent (%s)", job_id, err)

    async def take_part(self, job_id: int) -> None:
        """Runs one job to its end here; one job's failure never stops the daemon."""
        try:
            await self._run(job_id)
        except MpccError as err:
            self.states[job_id] = f"failed: {err}"
            log.warning("job %d: stopped: %s", job_id, err)
        except Exception:
            self.states[job_id] = "failed"
            log.exception("job %d: unexpected error", job_id)

    async def decline(self, job_id: int, reason: DeclineReason, why: str) -> None:
        """Declines a job this member cannot serve (if it is still proposed), releasing its tuples."""
        peer = self.peer
        job = await peer.chain.run(peer.dep.jobs.job, job_id)
        if job.state is not JobState.PROPOSED:
            self.states[job_id] = job.state.name.lower()
            log.error("job %d: cannot be served here (%s), and is %s already", job_id, why, job.state.name.lower())
            return
        batches = list(dict.fromkeys(batch for batch, _, _ in await peer.reserved_ranges(job_id)))
        try:
            await peer.chain.run(peer.dep.jobs.decline, peer.org.account, job_id, reason, batches[:16])
        except ChainError as err:  # Another participant declined first, or the deadline passed.
            self.states[job_id] = f"not served: {why}"
            log.error("job %d: cannot be served here (%s); decline not sent: %s", job_id, why, err)
            return
        self.states[job_id] = f"declined ({reason.name.lower()})"
        log.warning("job %d: declined on chain (%s): %s", job_id, reason.name.lower(), why)

    async def _run(self, job_id: int) -> None:
        peer, jobs = self.peer, self.peer.dep.jobs
        key = self.key()
        try:
            spec = await peer.job_spec(job_id)
        except ConfigError as err:
            await self.decline(job_id, DeclineReason.SPEC_MALFORMED, f"its spec is not valid: {err}")
            return
        job = await peer.chain.run(jobs.job, job_id)
        accepted = await peer.chain.run(jobs.has_accepted, job_id, peer.address)
        if job.state is not JobState.PROPOSED and not accepted:
            self.states[job_id] = job.state.name.lower()
            return
        if self.group and [p.lower() for p in spec.participants] != self.group:
            await self.decline(job_id, DeclineReason.TUPLES_UNAVAILABLE,
                               f"its participants are not the {len(self.group)} members whose tuples this member "
                               "holds, in party order (every job takes the whole group: its tuples are "
                               "authenticated under the group's MAC key)")
            return
        if not accepted and not await self._accept(job_id, spec, job.proposer):
            return
        log.info("job %d: waiting for every participant to accept", job_id)
        self.states[job_id] = "accepted"
        # The chain is polled: no event is set when the others accept.
        pace = Pace(self.config.poll_s)
        while (state := (await peer.chain.run(jobs.job, job_id)).state) is JobState.PROPOSED:  # noqa: ASYNC110
            await asyncio.sleep(pace.wait_s())
        if state is not JobState.ACCEPTED:
            self.states[job_id] = state.name.lower()
            log.info("job %d: %s before it started", job_id, state.name.lower())
            return
        participants = await peer.chain.run(jobs.participants, job_id)
        members = [await peer.chain.run(peer.dep.registry.member, a) for a in participants]
        everyone = await peer.chain.run(peer.dep.registry.members)
        self.states[job_id] = "connecting"
        label = f"job {job_id}"
        try:
            transport = await self.channels.connect(job_tag(job_id), members, everyone, label)
        except ProtocolAbort as err:
            self.states[job_id] = "left to expire"
            log.warning("job %d: could not connect to every participant (%s); left to expire at its deadline",
                        job_id, err)
            return
        self.states[job_id] = "running"
        log.info("job %d: connected to %d participants; computing %s", job_id, len(members) - 1,
                 spec.title or f"{spec.analysis} of {spec.column}")
        try:
            outcome = await peer.run_job(transport, key, job_id)
        finally:
            await self.channels.disconnect(transport, label)
        if outcome.result is not None:
            self.states[job_id] = "result posted"
            log.info("job %d: result posted: %s", job_id, json.dumps(outcome.result, sort_keys=True))
        else:
            self.states[job_id] = f"stopped: {outcome.error}"

    async def _accept(self, job_id: int, spec: JobSpec, proposer: str) -> bool:
        """Accept by policy (after validating the data), or wait for a manual acceptance."""
        peer, jobs = self.peer, self.peer.dep.jobs
        decision = self.config.accepts(spec.analysis, proposer)
        if decision is False:
            await self.decline(job_id, DeclineReason.POLICY,
                               f"{spec.analysis} by {proposer} is outside the accept policy")
            return False
        missing = peer.missing_data(spec)
        if missing:
            await self.decline(job_id, DeclineReason.DATA_MISSING, missing)
            return False
        try:
            await peer.load_data(spec)
        except ConfigError as err:
            await self.decline(job_id, DeclineReason.DATA_INVALID, f"this organisation's data is not usable: {err}")
            return False
        if decision:
            await peer.chain.run(jobs.accept, peer.org.account, job_id)
            columns = ", ".join(spec.columns or (spec.column,))
            log.info("job %d: accepted by policy (%s of %s)", job_id, spec.analysis, columns)
            return True
        self.states[job_id] = "awaiting manual acceptance"
        log.info("job %d: waiting for `mpcc job accept %d`", job_id, job_id)
        while not await peer.chain.run(jobs.has_accepted, job_id, peer.address):
            if (await peer.chain.run(jobs.job, job_id)).state is not JobState.PROPOSED:
                return False
            await asyncio.sleep(self.config.poll_s)
        log.info("job %d: accepted manually", job_id)
        return True
