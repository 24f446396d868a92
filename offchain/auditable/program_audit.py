"""The auditor's side of offchain.auditable.program: replay a published record on the commitments.

The auditor runs the job's program on a replay context
(offchain.engine.replay) over the summed tuple commitments (CommitVec: a
public constant c is the commitment c*G), with the opened values and
broadcasts played back from the record, and checks every opening
C_j = v_j G + rho_j H of the commitments the replay derives; then the result
is the replayed one. Steps (each failing names what failed):

    tuple commitments   as many as the spec's program needs
    tuple checks        the public checks of every triple, square pair and bit
    openings            every opened value opens its commitment (the first that
                        does not is named, with the protocol phase it belongs to)
    result              the posted result is the replayed one
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable.commitments import mismatches
from offchain.auditable.program import Layout, Record, challenge, empty_table, program, split
from offchain.auditable.replay import Step
from offchain.auditable.shadows import CommitVec
from offchain.engine.replay import ReplayContext
from offchain.engine.tape import Playback, ReplayMismatch
from offchain.errors import ConfigError, ProtocolAbort, SacrificeFailed

STEPS = ("tuple commitments", "tuple checks", "openings", "result")


def audit(spec: JobSpec, n_parties: int, record: Record, result: Mapping[str, str] | None = None
          ) -> tuple[dict[str, str] | None, list[Step]]:
    """Replays the job on the commitments and checks every opening, and the result if given.

    Returns the replayed result (None if a check before it failed) and the steps.
    """
    lay = Layout.of(registry.needs(spec))
    steps: list[Step] = []
    if len(record.commitments) != lay.size():
        steps.append(Step(STEPS[0], False, f"{len(record.commitments)} commitments for "
                                          f"{lay.size()} tuple values"))
        return None, steps
    steps.append(Step(STEPS[0], True, f"{lay.size()} commitments to {sum(n for _, n in lay.needs())} "
                                     "tuples"))
    tape = Playback(record.opened, record.messages)
    ctx = ReplayContext(tape, n_parties, CommitVec)
    base = split(lay, CommitVec(record.commitments))
    try:
        derived = asyncio.run(program(ctx, spec, empty_table(spec), base,
                                      challenge(spec, record.commitments)))
        tape.finished()
    except SacrificeFailed as exc:
        return None, [*steps, Step(STEPS[1], False, str(exc))]
    except (ReplayMismatch, ConfigError, ProtocolAbort) as exc:  # E.g. a coin opening that fails its commitment.
        return None, [*steps, Step(STEPS[2], False, f"the record does not fit the program: {exc}")]
    steps.append(Step(STEPS[1], True, f"{lay.triples} triples, {lay.checked_squares} square pairs "
                                      f"and {lay.bits} bits checked with challenge"))
    steps.append(_check_openings(tape, ctx.opened(), record))
    if not steps[-1].passed:
        return None, steps
    if result is not None:
        same = dict(result) == derived
        steps.append(Step(STEPS[3], same, "the posted result is the replayed one" if same else
                          f"posted {dict(result)}, replayed {derived}"))
    return derived, steps


def _check_openings(tape: Playback, derived: CommitVec, record: Record) -> Step:
    if len(record.rands) != len(record.opened):
        return Step(STEPS[2], False, f"{len(record.rands)} randomness values for "
                                     f"{len(record.opened)} opened values")
    bad = mismatches(derived.points, record.opened, record.rands)
    if bad.size:
        j = int(bad[0])
        vector = tape.vector_of(j)
        return Step(STEPS[2], False, f"opened value {j} ({tape.phases[vector]}, opening "
                                     f"{vector}) does not open its commitment; {bad.size} of "
                                     f"{len(record.opened)} fail")
    return Step(STEPS[2], True, f"{len(record.opened)} opened values open their commitments")

