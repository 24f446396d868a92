"""Public verification of an auditable job's result, from chain data alone.

For a job whose spec sets ``auditable``, anyone with an RPC URL and the
manifest re-checks, trusting no organisation (not even all of them together):

    commitment lists   each participant's Pedersen list, read from the calldata
                       of its AuditTrail.commitShares transactions, hashes to the
                       chain's listHash and to its JobManager input commitment,
                       and has one point per input value of every owner
    openings           each participant's published share y_i and randomness R_i
                       of every revealed total open its commitments:
                       y_i*G + R_i*H = sum over owners of its points in that column
    on-chain check     AuditTrail recorded LinearResultVerified, with the totals
                       sum_i y_i of exactly the columns the spec reveals
    result             the finalised result is what the spec's analysis makes
                       of the verified totals (e.g. mean = sum / count)

Every other analysis (offchain.auditable.program: comparisons, truncations,
divisions and differential-privacy noise included) is checked by replaying
its program on the committed tuples: "tuple commitments" (the summed list
published by the first participant, whose hash every participant committed
on JobManager), "tuple checks" (the public checks of every triple, square
pair and bit), "openings" (every opened value opens the commitment the
replay derives) and "result".

An auditable summary (offchain.auditable.summary) is checked instead by the
replay of offchain.auditable.replay: the lists (with the tuple commitments
bound by the input commitment), then every opening of the public sacrifice,
of the Beaver products and of the outputs re-derived from the commitments,
then the result derived from the verified outputs.

Binding of Pedersen commitments (nobody knows log_G H) is what makes a wrong
total impossible to open; the order (all lists before any result) is enforced
by the contracts and re-checked by the audit of record. Each step reports
which participant, column or value failed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_utils.crypto import keccak

from offchain import curve
from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import program, program_audit
from offchain.auditable.commitments import check_opening, column_sums
from offchain.auditable.linear import result_from_totals, revealed_columns, width
from offchain.auditable.replay import PartyRecord, Step, replay
from offchain.auditable.routes import Route, route
from offchain.auditable.summary import challenge as summary_challenge
from offchain.auditable.summary import plan as summary_plan
from offchain.auditable.tracked import Transcript
from offchain.field import P
from onchain.abi import audit_trail
from onchain.abi.audit_trail import DataPublished, LinearResultVerified, OpeningPublished, SharesCommitted
from onchain.abi.job_manager import InputsCommitted, JobFinalised, JobManagerEvent, ResultSubmitted
from onchain.audit_trail import POINT_BYTES, DataKind
from onchain.deploy import Deployment
from onchain.errors import ChainError

STEPS = ("commitment lists", "openings", "on-chain check", "result")


@dataclass(frozen=True)
class TrailRecord:
    """What the chain holds of an auditable job, as data (a test may alter it)."""

    job_id: int
    participants: tuple[str, ...]
    lists: dict[str, list[tuple[SharesCommitted, bytes]]]  # participant -> (SharesCommitted, its chunk)
    input_commitments: dict[str, bytes]                    # participant -> JobManager InputsCommitted
    openings: dict[str, OpeningPublished]                  # participant -> OpeningPublished
    verified: LinearResultVerified | None
    result: bytes | None                              # JobFinalised's result
    tuples: dict[str, bytes] = field(default_factory=dict)       # participant -> tuple commitments
    transcripts: dict[str, bytes] = field(default_factory=dict)  # participant -> opening transcript
    posted: dict[str, bytes] = field(default_factory=dict)       # participant -> its ResultSubmitted result


def load_trail(dep: Deployment, job_id: int, participants: Sequence[str],
               job_events: Sequence[JobManagerEvent]) -> TrailRecord:
    """The job's AuditTrail events and commitment chunks (from calldata), and its JobManager facts."""
    events = dep.audit.logs(*audit_trail.EVENTS, from_block=dep.manifest.deploy_block, jobId=job_id)
    lists: dict[str, list[tuple[SharesCommitted, bytes]]] = {p.lower(): [] for p in participants}
    openings: dict[str, OpeningPublished] = {}
    published: dict[DataKind, dict[str, bytes]] = {kind: {} for kind in DataKind}
    verified = None
    for event in events:
        if isinstance(event, SharesCommitted) and event.participant.lower() in lists:
            _, _, points = dep.audit.committed_points(event.tx_hash)
            lists[event.participant.lower()].append((event, points))
        elif isinstance(event, OpeningPublished):
            openings.setdefault(event.participant.lower(), event)
        elif isinstance(event, LinearResultVerified) and verified is None:
            verified = event
        elif isinstance(event, DataPublished) and event.participant.lower() in lists:
            who = event.participant.lower()
            _, kind, data = dep.audit.published_data(event.tx_hash)
            if keccak(data) == event.dataHash:
                # Data may come in chunks, one per transaction, joined in chain order.
                published[kind][who] = published[kind].get(who, b"") + data
    job_events = [e for e in job_events if getattr(e, "jobId", None) == job_id]
    commitments = {e.participant.lower(): e.commitment for e in job_events if isinstance(e, InputsCommitted)}
    finalised = [e for e in job_events if isinstance(e, JobFinalised)]
    result = finalised[0].result if finalised else None
    posted = {e.participant.lower(): e.result for e in job_events if isinstance(e, ResultSubmitted)}
    return TrailRecord(job_id, tuple(p.lower() for p in participants), lists, commitments, openings, verified, result,
                       published[DataKind.TUPLES], published[DataKind.TRANSCRIPT], posted)


def verify(spec: JobSpec, trail: TrailRecord) -> list[Step]:
    """Every step of the public verification, in order; a step failing does not stop the others."""
    way = route(spec)
    if way is Route.SUMMARY:
        return _verify_summary(spec, trail)
    if way is Route.PROGRAM:
        return _verify_program(spec, trail)
    columns = revealed_columns(spec)
    totals, steps = verify_openings(trail, width(spec), columns, len(spec.participants) * width(spec))
    return [*steps, _check_result(spec, trail, totals)]


def verify_openings(trail: TrailRecord, width: int, columns: Sequence[int], expected: int
                    ) -> tuple[list[int] | None, list[Step]]:
    """The first three steps for lists of ``expected`` points in ``width`` columns, ``columns`` revealed.

    Returns the verified totals (None unless the on-chain check passed) and the steps.
    """
    points, lists_step = _check_lists(trail, expected)
    totals, check_step = _check_on_chain(trail, tuple(columns))
    return totals, [lists_step, _check_openings(trail, points, width, tuple(columns)), check_step]


def _verify_summary(spec: JobSpec, trail: TrailRecord) -> list[Step]:
    """The summary's replay (offchain.auditable.replay) over the published lists and transcripts."""
    p = summary_plan(spec)
    points, lists_step = _check_lists(trail, len(spec.participants) * p.width)
    steps = [lists_step]
    records, problems = [], []
    for who in trail.participants:
        try:
            shares, rands = Transcript.parse(trail.transcripts[who])
            tuples = curve.PointVec.from_bytes(trail.tuples.get(who, b""))
            records.append(PartyRecord(points[who], tuples, shares, rands))
        except (KeyError, ValueError) as err:
            problems.append(f"{who}: {'no published data' if isinstance(err, KeyError) else err}")
    if problems or not lists_step.passed:
        steps.append(Step("replay", False, "; ".join(problems) or "the lists did not check out"))
        return [*steps, _check_result_of(trail, None)]
    t = summary_challenge(trail.job_id, [trail.input_commitments[w] for w in trail.participants])
    try:
        derived, findings = replay(spec, t, records)
    except ValueError as err:
        return [*steps, Step("replay", False, str(err)), _check_result_of(trail, None)]
    steps += findings
    return [*steps, _check_result_of(trail, registry.result_bytes(derived) if derived is not None else None)]


def _verify_program(spec: JobSpec, trail: TrailRecord) -> list[Step]:
    """Any other analysis: the replay of offchain.auditable.program over the published record."""
    first = trail.participants[0]
    absent = [what for what, published in (("tuple commitments", trail.tuples), ("transcript", trail.transcripts))
              if first not in published]
    if absent:
        return [Step("tuple commitments", False, f"the first participant {first}, who publishes the record on "
                     f"this route, published no {' and no '.join(absent)} on AuditTrail: the run cannot be "
                     "replayed, so the result is not publicly verified"),
                _check_result_of(trail, None)]
    try:
        record = program.Record.parse(trail.tuples[first], trail.transcripts[first])
    except ValueError as err:
        return [Step("tuple commitments", False, f"{first}'s published record: {err}"),
                _check_result_of(trail, None)]
    expected = program.commitment_hash(record.commitments)
    wrong = [w for w in trail.participants if trail.input_commitments.get(w) != expected]
    if wrong:
        return [Step("tuple commitments", False, f"the input commitment of {', '.join(wrong)} on "
                     f"JobManager is not the hash of the published tuple commitments"),
                _check_result_of(trail, None)]
    derived, steps = program_audit.audit(spec, len(spec.participants), record)
    steps[0] = dataclasses.replace(steps[0], detail=steps[0].detail + ", their hash committed on "
                                   "JobManager by every participant")
    expected_result = registry.result_bytes(derived) if derived is not None else None
    return [*steps, _check_result_of(trail, expected_result)]


def _check_lists(trail: TrailRecord, expected: int) -> tuple[dict[str, curve.PointVec], Step]:
    problems, points = [], {}
    for who in trail.participants:
        chunks = trail.lists.get(who, [])
        if not chunks:
            problems.append(f"{who} committed no Pedersen list")
            continue
        data = b"".join(chunk for _, chunk in chunks)
        digest = bytes(32)
        for event, chunk in chunks:
            digest = keccak(digest + chunk)  # The contract's hash chain over its chunks.
            if digest != event.listHash:
                problems.append(f"{who}'s chunk in tx {event.tx_hash} does not hash to the listHash on chain")
        if len(data) != expected * POINT_BYTES:
            problems.append(f"{who} committed {len(data) // POINT_BYTES} points, the spec needs {expected}")
        tuples = trail.tuples.get(who)
        if tuples:
            digest = keccak(digest + keccak(tuples))
        if trail.input_commitments.get(who) != digest:
            problems.append(f"{who}'s input commitment on JobManager is not the hash of its Pedersen list")
        try:
            points[who] = curve.PointVec.from_bytes(data)
        except ValueError as err:
            problems.append(f"{who}'s list holds an invalid point: {err}")
    detail = "; ".join(problems) or (f"{len(trail.participants)} lists of {expected} commitments, "
                                     "each matching its hashes on chain")
    return points, Step("commitment lists", not problems, detail)


def _check_openings(trail: TrailRecord, points: dict[str, curve.PointVec], width: int,
                    columns: tuple[int, ...]) -> Step:
    problems = []
    for who in trail.participants:
        event = trail.openings.get(who)
        if event is None:
            problems.append(f"{who} published no opening")
            continue
        if event.columns != columns:
            problems.append(f"{who} opened columns {list(event.columns)}, the spec reveals {list(columns)}")
            continue
        if who not in points:
            continue
        sums = column_sums(points[who], width)
        wanted = curve.PointVec.concat([sums[c] for c in columns])
        for j in check_opening(wanted, event.shares, event.rands):
            problems.append(f"{who}'s share and randomness of column {columns[j]} do not open its commitments")
    detail = "; ".join(problems) or f"every participant's opening of columns {list(columns)} matches its commitments"
    return Step("openings", not problems, detail)


def _check_on_chain(trail: TrailRecord, wanted: tuple[int, ...]) -> tuple[list[int] | None, Step]:
    event = trail.verified
    if event is None:
        return None, Step("on-chain check", False, "AuditTrail recorded no LinearResultVerified for the job")
    columns, totals = event.columns, list(event.totals)
    if columns != wanted:
        return None, Step("on-chain check", False, f"verified columns {list(columns)}, "
                          f"the spec reveals {list(wanted)}")
    sums = [sum(o.shares[j] for o in trail.openings.values()) % P for j in range(len(columns))]
    if sums != totals or len(trail.openings) != len(trail.participants):
        return None, Step("on-chain check", False, "the verified totals are not the sums of the published shares")
    return totals, Step("on-chain check", True, f"AuditTrail verified the totals of columns {list(columns)} "
                        f"in tx {event.tx_hash} (ecAdd/ecMul precompiles)")


def _check_result(spec: JobSpec, trail: TrailRecord, totals: list[int] | None) -> Step:
    expected = None if totals is None else registry.result_bytes(result_from_totals(spec, totals))
    return _check_result_of(trail, expected)


def _check_result_of(trail: TrailRecord, expected: bytes | None) -> Step:
    if trail.result is None and expected is not None and trail.posted:
        # The results differed (or one is missing): the verified values say whose result is wrong.
        wrong = [p for p in trail.participants if p in trail.posted and trail.posted[p] != expected]
        silent = [p for p in trail.participants if p not in trail.posted]
        faults = [f"{p} posted a result the verified values do not give" for p in wrong]
        faults += [f"{p} posted no result" for p in silent]
        return Step("result", False, "the job has no finalised result; at fault: " + "; ".join(
            faults or ["no one (every posted result is the verified one)"]) + f". Verified result: {expected.decode()}")
    if trail.result is None:
        return Step("result", False, "the job has no finalised result")
    if expected is None:
        return Step("result", False, "no verified values to derive the result from")
    if expected != trail.result:
        return Step("result", False, f"the finalised result {trail.result.decode(errors='replace')} is not "
                    f"what the verified totals give: {expected.decode()}")
    return Step("result", True, f"the finalised result follows from the verified totals: {expected.decode()}")


def audit_public(dep: Deployment, job_id: int, spec: JobSpec,
                 job_events: Sequence[JobManagerEvent]) -> list[Step]:
    """``verify`` over the chain's record of ``job_id`` (ChainError if the record cannot be read)."""
    if not spec.auditable:
        raise ChainError(f"job {job_id} is not auditable; its spec does not set 'auditable'")
    return verify(spec, load_trail(dep, job_id, spec.participants, job_events))
