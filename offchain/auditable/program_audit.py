"""The auditor's side of offchain.auditable.program: replay a published record on the commitments.

The auditor runs the job's program as party 0 on the summed tuple
commitments (a public constant c is the commitment c*G), with the opened
values and broadcasts taken from the record's tape, and checks every opening
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

from offchain.analytics.spec import JobSpec
from offchain.auditable.commitments import mismatches
from offchain.auditable.commitvec import CommitVec
from offchain.analytics import registry
from offchain.auditable.program import Layout, Record, challenge, empty_table, program, split
from offchain.auditable.replay import Step
from offchain.engine.context import Context
from offchain.engine.tape import Observer, ReplayMismatch, Tape
from offchain.errors import ConfigError, SacrificeFailed
from offchain.preprocessing.source import MemoryTupleSource
from offchain.shares import MacKeyShare

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
    tape = Tape.replay(record.opened, record.messages)
    ctx = Context(Observer(n_parties), MacKeyShare(0, 0), MemoryTupleSource(), tape=tape)
    base = split(lay, CommitVec(record.commitments))
    try:
        derived = asyncio.run(program(ctx, spec, empty_table(spec), base,
                                      challenge(spec, record.commitments)))
        tape.finished()
    except SacrificeFailed as exc:
        return None, steps + [Step(STEPS[1], False, str(exc))]
    except (ReplayMismatch, ConfigError) as exc:
        return None, steps + [Step(STEPS[2], False, f"the record does not fit the program: {exc}")]
    steps.append(Step(STEPS[1], True, f"{lay.triples} triples, {lay.checked_squares} square pairs "
                                      f"and {lay.all_bits} bits checked with challenge"))
    steps.append(_check_openings(tape, record))
    if not steps[-1].passed:
        return None, steps
    if result is not None:
        same = dict(result) == derived
        steps.append(Step(STEPS[3], same, "the posted result is the replayed one" if same else
                          f"posted {dict(result)}, replayed {derived}"))
    return derived, steps


def _check_openings(tape: Tape, record: Record) -> Step:
    derived = CommitVec.concat(tape.shadows).points
    if len(record.rands) != len(record.opened):
        return Step(STEPS[2], False, f"{len(record.rands)} randomness values for "
                                     f"{len(record.opened)} opened values")
    bad = mismatches(derived, record.opened, record.rands)
    if bad.size:
        j = int(bad[0])
        vector = _vector_of(tape, j)
        return Step(STEPS[2], False, f"opened value {j} ({tape.phases[vector]}, opening "
                                     f"{vector}) does not open its commitment; {bad.size} of "
                                     f"{len(record.opened)} fail")
    return Step(STEPS[2], True, f"{len(record.opened)} opened values open their commitments")


def _vector_of(tape: Tape, j: int) -> int:
    at = 0
    for i, shadow in enumerate(tape.shadows):
        at += len(shadow)
        if j < at:
            return i
    return len(tape.shadows) - 1
