"""The auditor's replay of an auditable summary: every commitment re-derived, every opening checked.

Input, all public: each party i's commitments (its input shares' list and its
tuples' list, see offchain.auditable.summary for the layouts), its transcript
(share and randomness of every opened value, in order), and the sacrifice's
challenge t. Nothing here trusts any party, even all of them together:
binding of the commitments (nobody knows log_G H) leaves each opened value
one possible share per party, and the public sacrifice with a challenge fixed
after the tuples were committed leaves a wrong triple a chance of 1/p.

With C(v)_i party i's commitment to its share of v, and public values the sums
of the parties' transcript shares, the checks are, per party and element:

    sacrifice openings  C(rho)_i = t C(a)_i - C(f)_i,  C(sigma)_i = C(b)_i - C(g)_i
    sacrifice check     z = 0 and C(z)_i = t C(c)_i - C(h)_i - sigma C(f)_i - rho C(g)_i - [i=0] sigma rho G
    Beaver openings     C(d)_i = C(x)_i - C(a)_i,  C(e)_i = C(y)_i - C(b)_i
    outputs             C(n)_i, C(S)_i from the input columns, and
                        C(T)_i = (C(c)_i + e C(a)_i + d C(b)_i + [i=0] d e G)[:gc] - (same)[gc:]

where an opening (s_i, r_i) of C checks as s_i*G + r_i*H = C. Each failure
names the step, the party and the element.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from offchain import curve
from offchain.analytics.spec import JobSpec
from offchain.auditable.commitments import column_sums
from offchain.auditable.summary import Plan, derive, plan
from offchain.errors import ConfigError
from offchain.field import FieldVec

STEPS = ("sacrifice openings", "sacrifice check", "Beaver openings", "outputs")


@dataclass(frozen=True)
class PartyRecord:
    """What party i published: its two commitment lists and its transcript."""

    inputs: curve.PointVec
    tuples: curve.PointVec
    shares: FieldVec
    rands: FieldVec


@dataclass(frozen=True)
class Step:
    """One step of a public verification and its evidence (mpcc.audit.public's steps too)."""

    name: str
    passed: bool
    detail: str


class _Openings:
    """Reads the transcripts vector by vector, in the order the program opened them."""

    def __init__(self, parties: Sequence[PartyRecord]) -> None:
        self.parties, self.at = parties, 0

    def next(self, n: int) -> tuple[FieldVec, list[tuple[FieldVec, FieldVec]]]:
        parts = [(p.shares[self.at:self.at + n], p.rands[self.at:self.at + n]) for p in self.parties]
        self.at += n
        value = parts[0][0]
        for shares, _ in parts[1:]:
            value = value + shares
        return value, parts


def replay(spec: JobSpec, t: int, parties: Sequence[PartyRecord]) -> tuple[dict[str, str] | None, list[Step]]:
    """The result the verified openings give (None if a step failed) and each step's finding."""
    p = plan(spec)
    _check_sizes(spec, p, parties)
    problems: dict[str, list[str]] = {step: [] for step in STEPS}
    reader = _Openings(parties)
    gc, g, f = p.cells, p.groups, spec.fixed_point.f
    cols = [column_sums(x.inputs, p.width) for x in parties]
    n_c = [c[0:g] for c in cols]
    s_c = [c[g:g + gc] for c in cols]
    outputs = [n_c]
    if p.sums:
        outputs.append(s_c)
    if p.second:
        m, per = 2 * gc, len(spec.columns)
        tup = [_split(x.tuples, 4 * gc) for x in parties]
        main = [[v[0:m] for v in abc] for abc in tup]
        check = [[v[m:] for v in abc] for abc in tup]
        rho, rho_parts = reader.next(m)
        sigma, sigma_parts = reader.next(m)
        for i in range(len(parties)):
            (a, b, _), (fc, gcm, _) = main[i], check[i]
            _expect(problems, "sacrifice openings", i, "rho", a.scale(t) - fc, rho_parts[i])
            _expect(problems, "sacrifice openings", i, "sigma", b - gcm, sigma_parts[i])
        zero, zero_parts = reader.next(m)
        if zero != FieldVec.zeros(m):
            bad = [k for k, v in enumerate(zero.to_ints()) if v]
            problems["sacrifice check"].append(f"z is not 0 at triple(s) {bad[:5]}: a triple with c != ab")
        for i in range(len(parties)):
            (_, _, c), (fc, gcm, h) = main[i], check[i]
            z = c.scale(t) - h - fc.scale(sigma) - gcm.scale(rho) + _public(-(sigma * rho), i)
            _expect(problems, "sacrifice check", i, "z", z, zero_parts[i])
        d, d_parts = reader.next(m)
        e, e_parts = reader.next(m)
        t_c = []
        for i in range(len(parties)):
            a, b, c = main[i]
            x = curve.PointVec.concat([_repeat(n_c[i], per), s_c[i]])
            y = curve.PointVec.concat([cols[i][g + gc:g + 2 * gc].scale(1 << f), s_c[i]])
            _expect(problems, "Beaver openings", i, "d", x - a, d_parts[i])
            _expect(problems, "Beaver openings", i, "e", y - b, e_parts[i])
            w = c + a.scale(e) + b.scale(d) + _public(d * e, i)
            t_c.append(w[0:gc] - w[gc:m])
        outputs.append(t_c)
    values = []
    for k, commitments in enumerate(outputs):
        value, parts = reader.next(len(commitments[0]))
        for i in range(len(parties)):
            _expect(problems, "outputs", i, f"output {k}", commitments[i], parts[i])
        values.append(value.to_signed_ints())
    findings = [Step(step, not bad, "; ".join(bad) or "every party's openings match its commitments")
                for step, bad in problems.items() if step in _steps(p)]
    if any(not x.passed for x in findings):
        return None, findings
    return derive(spec, values[0], values[1] if p.sums else None, values[-1] if p.second else None), findings


def _steps(p: Plan) -> tuple[str, ...]:
    return STEPS if p.second else ("outputs",)


def _check_sizes(spec: JobSpec, p: Plan, parties: Sequence[PartyRecord]) -> None:
    owners = len(spec.participants)
    opened = p.groups + p.cells * (p.sums + p.second) + (5 * 2 * p.cells if p.second else 0)
    for i, x in enumerate(parties):
        if len(x.inputs) != owners * p.width or len(x.tuples) != 3 * p.tuples or len(x.shares) != opened:
            raise ConfigError(f"party {i} published {len(x.inputs)} input and {len(x.tuples)} tuple commitments "
                              f"and {len(x.shares)} openings; the spec needs {owners * p.width}, "
                              f"{3 * p.tuples} and {opened}")


def _split(points: curve.PointVec, n: int) -> list[curve.PointVec]:
    return [points[k * n:(k + 1) * n] for k in range(3)]


def _repeat(x: curve.PointVec, times: int) -> curve.PointVec:
    return curve.PointVec.concat([x[i:i + 1] for i in range(len(x)) for _ in range(times)])


def _public(c: FieldVec, party: int) -> curve.PointVec:
    """c*G elementwise for party 0 (which adds public constants), the identity for the others."""
    return curve.commit(c if party == 0 else FieldVec.zeros(len(c)), FieldVec.zeros(len(c)))


def _expect(problems: dict[str, list[str]], step: str, party: int, what: str,
            commitments: curve.PointVec, opening: tuple[FieldVec, FieldVec]) -> None:
    opened = curve.commit(*opening)
    bad = [k for k in range(len(commitments)) if opened[k] != commitments[k]]
    if bad:
        problems[step].append(f"party {party}'s opening of {what} at element(s) {bad[:5]} "
                              "does not match its commitments")
