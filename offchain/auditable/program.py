"""Auditable runs of any analysis: committed tuples, their checks in public, and a replay.

Every value of an online run is a public linear function of the inputs and
tuples once the opened values are fixed (offchain.engine.tape). So a run is
publicly verifiable (Baum, Damgaard and Orlandi 2014) when every tuple it
consumes is committed with shared randomness and every opened value comes
with the randomness of its commitment:

1. Base tuples. From the analysis's exact needs N, the job takes input masks
   as N has them, 2T triples (T = N's triples), 2S' square pairs
   (S' = N's squares + B') and B' bits (B' = N's bits, which count those of
   every truncation pair: a pair (R, R mod 2^m) with R < 2^b is built from b
   bits, R = sum_i 2^i b_i, in any run, offchain.preprocessing.tuples). Party i commits to
   each of its shares x_i with fresh randomness r_i; the parties sum their
   commitment lists into C = x*G + r*H (one exchange), which is what an
   auditor needs (``Record.commitments``).
2. Public checks, with a challenge t = H(spec, C) that nobody controls:
   triples (a, b, c) with (f, g, h): open rho = t a - f, sigma = b - g, then
   t c - h - sigma f - rho g - sigma rho, which must be 0; square pairs (a, b)
   with (f, h): open rho = t a - f, then t^2 b - h - rho (t a + f) = 0; bits
   b with a checked pair (f, h): open rho = b - f, then h + 2 rho f + rho^2 - b
   = b^2 - b = 0. The values that must be 0 are not opened one by one: each
   kind's are combined as sum_j u^(j+1) z_j, u hashed from t and the first
   round's openings, and the three sums opened. A wrong tuple passes with
   probability at most (n + 2)/p for n tuples of its kind.
3. The analysis runs on the checked tuples (truncation pairs from the bits),
   every opened value and broadcast recorded on the live context's
   Recorder, MAC-checked as in any run. Each party then replays the run on
   its randomness shares (a ReplayContext over RandVec: constants add no
   randomness), and the parties sum those shadows into rho, the randomness
   of every opened value (one more exchange).

``Record`` (commitments C, opened values v, their randomness rho, the input
broadcasts) is what the auditor gets. offchain.auditable.program_audit
replays the program on C (a ReplayContext over CommitVec: a public c is
c*G), checks every opening, C_j = v_j G + rho_j H, and re-derives the
result: it is the one the inputs committed through the masks determine, even
if every party colluded, since C is binding.

:func:`program` is written once against offchain.engine.evaluator.Evaluator
and runs on all three: the live party's shares, its randomness, the
commitments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import numpy as np

from offchain import curve
from offchain.analytics import registry
from offchain.analytics.data import Table
from offchain.analytics.spec import JobSpec, categorical_columns, numeric_columns
from offchain.auditable.shadows import RandVec
from offchain.engine.comm import exchange
from offchain.engine.context import Context
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.opening import open_shares, open_values
from offchain.engine.replay import R, ReplayContext
from offchain.engine.tape import Playback, Recorder
from offchain.errors import ConfigError, DecodeError, MalformedMessage, SacrificeFailed
from offchain.field import ELEMENT_BYTES, FieldVec, P, RandBytes
from offchain.preprocessing.tuples import Needs, TupleKey, TupleKind, TupleSet

#: Awaited with the summed commitments to the base tuples, before anything is opened.
CommitHook = Callable[[curve.PointVec], Awaitable[None]]
TRANSCRIPT_VERSION = 2
_TRIPLE, _SQUARE, _BIT = (TupleKey(k) for k in (TupleKind.TRIPLE, TupleKind.SQUARE, TupleKind.BIT))


@dataclass(frozen=True)
class Layout:
    """The base tuples of a job, from the plain analysis's needs (see the module docstring)."""

    masks: tuple[tuple[TupleKey, int], ...]
    triples: int
    squares: int
    bits: int

    @classmethod
    def of(cls, plain: Needs) -> Layout:
        kinds = {TupleKind.TRIPLE, TupleKind.SQUARE, TupleKind.BIT, TupleKind.INPUT_MASK}
        unknown = [k for k, _ in plain if k.kind not in kinds]
        if unknown:  # pragma: no cover - needs count the bits of truncation pairs, never pairs
            raise ConfigError(f"tuples of kind {unknown[0]} cannot be audited")
        return cls(tuple((k, n) for k, n in plain if k.kind is TupleKind.INPUT_MASK),
                   plain[_TRIPLE], plain[_SQUARE], plain[_BIT])

    @property
    def checked_squares(self) -> int:
        """S': the program's square pairs and one per bit (each bit is checked with one)."""
        return self.squares + self.bits

    def needs(self) -> Needs:
        """What the job reserves: masks, 2T triples, 2S' square pairs and B' bits."""
        out = Needs.of(_TRIPLE, 2 * self.triples) + Needs.of(_SQUARE, 2 * self.checked_squares)
        out = out + Needs.of(_BIT, self.bits)
        for key, n in self.masks:
            out = out + Needs.of(key, n)
        return out

    def size(self) -> int:
        """How many values (hence commitments) the base tuples hold."""
        return sum(n * key.kind.width for key, n in self.needs())


def needs(spec: JobSpec) -> Needs:
    """The base tuples an auditable run of ``spec`` takes (see the module docstring)."""
    return Layout.of(registry.needs(spec)).needs()


def challenge(spec: JobSpec, commitments: curve.PointVec) -> int:
    """t: SHA-512 of a tag, the spec's hash and the summed commitments, mod p (bias < 2^-250)."""
    digest = hashlib.sha512(b"mpcc/auditable-tuples/v1" + hashlib.sha256(spec.canonical().encode()).digest()
                            + commitments.to_bytes())
    return int.from_bytes(digest.digest(), "big") % P


# The base tuples as one flat vector ----------------------------------------------------------
def flatten(base: Mapping[TupleKey, TupleSet], lay: Layout) -> FieldVec:
    """The shares of every base tuple, key by key (``Needs`` order), column by column."""
    return FieldVec.concat([c.share for key, _ in lay.needs() for c in base[key].columns])


def split(lay: Layout, flat: R) -> dict[TupleKey, TupleSet[R]]:
    """The base tuples whose shares in a replay (randomness or commitments) are ``flat``."""
    if len(flat) != lay.size():
        raise ConfigError(f"{len(flat)} values for {lay.size()} base tuple values")
    out, at = {}, 0
    for key, n in lay.needs():
        columns = []
        for _ in range(key.kind.width):
            columns.append(flat[at:at + n])
            at += n
        out[key] = TupleSet(key, tuple(columns))
    return out


# The program: public checks, then the analysis -------------------------------------------------
async def program(ctx: Evaluator[S], spec: JobSpec, table: Table, base: Mapping[TupleKey, TupleSet[S]],
                  t: int) -> dict[str, str]:
    """Checks the base tuples in public, then runs the analysis on them (every party, every replay)."""
    lay = Layout.of(registry.needs(spec))
    ctx.enter_phase("tuple checks")
    checked = await checked_tuples(ctx, lay, base, t)
    ctx.enter_phase("analysis")
    return await registry.run(ctx.with_tuples(checked), spec, table)


async def checked_tuples(ctx: Evaluator[S], lay: Layout, base: Mapping[TupleKey, TupleSet[S]],
                         t: int) -> list[TupleSet[S]]:
    """The program's tuples, once every base tuple passed its public check (two rounds)."""
    triples, squares = _columns(ctx, base, _TRIPLE), _columns(ctx, base, _SQUARE)
    tn, sn = lay.triples, lay.checked_squares
    (a, f), (b, g), (c, h) = ((x[:tn], x[tn:]) for x in triples)
    (sa, sf), (sb, sh) = ((x[:sn], x[sn:]) for x in squares)
    bits = _columns(ctx, base, _BIT)[0]
    bf, bh = sa[lay.squares:], sb[lay.squares:]  # The pair each bit is checked with.
    rho, sigma, srho, brho = await open_values(ctx, [a.scale(t) - f, b - g, sa.scale(t) - sf,
                                                     bits - bf])
    z = [c.scale(t) - h - f.scale(sigma) - g.scale(rho),
         sb.scale(t * t % P) - sh - (sa.scale(t) + sf).scale(srho),
         bh + bf.scale(brho * 2) - bits]
    z = [ctx.sub_public(z[0], sigma * rho), z[1], ctx.add_public(z[2], brho * brho)]
    u = _combiner(t, [rho, sigma, srho, brho])
    (zero,) = await open_values(ctx, [ctx.concat([zk.combine(_powers(u, len(zk))) for zk in z])])
    check_zero(zero)
    out = [base[key] for key, _ in lay.masks]
    out.append(TupleSet(_TRIPLE, (a, b, c)))
    out.append(TupleSet(_SQUARE, (sa[:lay.squares], sb[:lay.squares])))
    out.append(TupleSet(_BIT, (bits,)))
    return out


def check_zero(zero: FieldVec) -> None:
    """SacrificeFailed naming the first kind of tuple whose combined check value is not 0."""
    for name, value in zip(("triple", "square", "bit"), zero.to_ints(), strict=True):
        if value:
            raise SacrificeFailed(b"", name, f"the public check of the job's {name}s failed: "
                                  "some tuple does not satisfy its relation")


def _combiner(t: int, opened: list[FieldVec]) -> int:
    """u: fixed by the challenge and every value the checks' first round opened (Fiat-Shamir)."""
    digest = hashlib.sha512(b"mpcc/auditable-checks/v1" + t.to_bytes(32, "big")
                            + b"".join(v.packed() for v in opened))
    return int.from_bytes(digest.digest(), "big") % P


def _powers(u: int, n: int) -> FieldVec:
    """u, u^2, .., u^n: the weights of sum_j u^(j+1) z_j, which is 0 for all z_j = 0 and
    otherwise 0 with probability at most n/p."""
    powers, acc = [], 1
    for _ in range(n):
        acc = acc * u % P
        powers.append(acc)
    return FieldVec.from_ints(powers)


def _columns(ctx: Evaluator[S], base: Mapping[TupleKey, TupleSet[S]], key: TupleKey) -> tuple[S, ...]:
    if key in base:
        return base[key].columns
    return tuple(ctx.zeros(0) for _ in range(key.kind.width))


# A party's run -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """What the auditor needs besides the spec and the result: see the module docstring.

    On chain (mpcc.peer.member), the commitments go compressed (32 bytes
    each, offchain.curve.compress; AuditTrail data of kind TUPLES), and every
    participant's JobManager input commitment is :func:`commitment_hash` of
    them; the rest as the
    transcript (kind TRANSCRIPT), version 2: 0x02 || n (4 bytes big-endian)
    || the n opened values packed || their n randomness values packed || m
    (4 bytes) || m times: length (4 bytes) || a broadcast message.
    """

    commitments: curve.PointVec
    opened: FieldVec
    rands: FieldVec
    messages: tuple[bytes, ...]

    def transcript(self) -> bytes:
        out = [bytes((TRANSCRIPT_VERSION,)), len(self.opened).to_bytes(4, "big"),
               self.opened.packed(), self.rands.packed(), len(self.messages).to_bytes(4, "big")]
        out += [len(m).to_bytes(4, "big") + m for m in self.messages]
        return b"".join(out)

    @classmethod
    def parse(cls, commitments: bytes, transcript: bytes) -> Record:
        """The record of published data (compressed commitments, transcript); DecodeError (a
        ValueError) naming what is malformed."""
        points = curve.decompress(commitments)
        view = memoryview(transcript)
        if len(view) < 5 or view[0] != TRANSCRIPT_VERSION:
            raise DecodeError("auditable transcript: missing or unknown version byte")
        n = int.from_bytes(view[1:5], "big")
        at = 5 + 2 * ELEMENT_BYTES * n
        if len(view) < at + 4:
            raise DecodeError(f"auditable transcript: too short for {n} opened values")
        opened = FieldVec.from_packed(view[5:], n)
        rands = FieldVec.from_packed(view[5 + ELEMENT_BYTES * n:], n)
        messages, count = [], int.from_bytes(view[at:at + 4], "big")
        at += 4
        for _ in range(count):
            size = int.from_bytes(view[at:at + 4], "big")
            if at + 4 + size > len(view):
                raise DecodeError("auditable transcript: a broadcast message runs past the end")
            messages.append(bytes(view[at + 4:at + 4 + size]))
            at += 4 + size
        if at != len(view):
            raise DecodeError("auditable transcript: trailing bytes")
        return cls(points, opened, rands, tuple(messages))


def commitment_hash(commitments: curve.PointVec) -> bytes:
    """What each participant commits to on JobManager: SHA-256 of a tag and the summed list."""
    return hashlib.sha256(b"mpcc/auditable-program/v1" + commitments.to_bytes()).digest()


async def run_party(ctx: Context, spec: JobSpec, table: Table, commit: CommitHook | None = None,
                    randbytes: RandBytes = secrets.token_bytes) -> tuple[dict[str, str], Record]:
    """This party's auditable run: its result (equal on every party) and the public record."""
    lay = Layout.of(registry.needs(spec))
    base = {key: ctx.take(key, n) for key, n in lay.needs()}
    rands = FieldVec.random(lay.size(), randbytes)
    points = await _sum_points(ctx, curve.commit(flatten(base, lay), rands))
    if commit is not None:
        await commit(points)
    t = challenge(spec, points)
    tape = Recorder()
    result = await program(dataclasses.replace(ctx, recorder=tape), spec, table, base, t)
    playback = tape.playback()
    shadow = await _shadow(spec, ctx.n_parties, lay, rands, playback, t)
    # Summing the parties' shadows opens rho; it is not the program's, so it is not taped.
    (rho,) = await open_shares(ctx, [shadow])
    return result, Record(points, playback.values, rho, playback.messages)


async def _shadow(spec: JobSpec, n: int, lay: Layout, rands: FieldVec, tape: Playback, t: int) -> FieldVec:
    """This party's randomness share of every opened value (the program replayed on rands)."""
    replay = ReplayContext(tape, n, RandVec)
    await program(replay, spec, empty_table(spec), split(lay, RandVec(rands)), t)
    tape.finished()
    return replay.opened().rands


async def _sum_points(ctx: Context, mine: curve.PointVec) -> curve.PointVec:
    total = mine
    for j, message in enumerate(await exchange(ctx, mine.to_bytes())):
        if j != ctx.party:
            try:
                theirs = curve.PointVec.from_bytes(message)
            except ValueError as exc:
                raise MalformedMessage(j, f"tuple commitments: {exc}") from exc
            if len(theirs) != len(mine):
                raise MalformedMessage(j, f"{len(theirs)} tuple commitments, expected {len(mine)}")
            total = total + theirs
    return total


def empty_table(spec: JobSpec) -> Table:
    """A table of no rows: a replay computes no local statistics (its inputs are on the tape)."""
    return Table(0, {c: np.zeros(0) for c in numeric_columns(spec)},
                 {c: np.zeros(0, dtype=np.int64) for c in categorical_columns(spec)})
