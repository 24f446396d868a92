"""LowGear triple and square generation among n organisations (Keller-Pastro-Rotaru 2018, Overdrive).

Every party holds its own BGV key pair (plaintext modulus r, so a
ciphertext's N slots are N field elements) and its MAC key share alpha_i.

Setup, once per session (:func:`setup`; or resumed from what every party
kept of an earlier one, :mod:`offchain.dealerless.kept`): each party makes its key pair and
proves it well formed with the TopGear proof of the ciphertexts
(:mod:`offchain.dealerless.keys`, :func:`offchain.dealerless.announce.exchange_keys`)
and broadcasts Enc_i(alpha_i) in every slot (a constant polynomial) with a
diagonal proof that it is constant (:func:`offchain.dealerless.announce.announce`).

A triple batch (:func:`triple_batch`):

1. party i samples a_i, b_i (N slots per ciphertext) and broadcasts Enc_i(a_i)
   with TopGear proofs; every party verifies every peer's proofs before
   using a ciphertext, and uses 2 C, which the proof vouches for
   (:func:`offchain.dealerless.announce.announce`);
2. every j != i returns to i Enc_i(a_i) * b_j, Enc_i(alpha_i) * a_j and
   Enc_i(alpha_i) * b_j, each masked and computed from the multiple f C
   that the proof vouches for, times f^-1 b_j (f = 2 for the shares, L for
   the MAC key: :mod:`offchain.dealerless.returns`);
   i decrypts the sums, so c_i = a_i b_i + sum_j (a_i b_j - r_ji) + sum_j r_ij
   and sum_i c_i = a b; the MAC shares of a and b come the same way:
   m_i = alpha_i x_i + (what i decrypts) + (the masks i kept), sum_i m_i = alpha x;
3. the same return of Enc_i(alpha_i) * c_j gives the MAC shares of c.

The N slots of each ciphertext make N/2 triples and, in the other half
of the batch's slots, as many check triples, produced the same way, that
:func:`offchain.engine.sacrifice.accept_batch` sacrifices:
the result is a :class:`PartyBatch` that every party passes to it
unchanged. Its batch id is a hash of the broadcast transcript after step 1,
so every party derives the same id, and a different one for every batch.
Square pairs (:func:`square_batch`) are the same with b = a: one product
return fewer, (a, a^2) with (f, f^2) as checks.
Bits and input masks are built on these steps in
:mod:`offchain.dealerless.kinds`: bits from square pairs, input masks from
the MAC step (:func:`authenticate`) on a sharing its owner deals.

Security against a malicious party. Every ciphertext an honest party
multiplies its shares into is proven: the batch ciphertexts and every
public key with TopGear (knowledge error 2^-48 per proof in production),
the MAC key ciphertexts with a diagonal proof (2^-44.4), and a failed proof
aborts naming the prover (ProofFailed) before any return. A proven key may
be as bad as the proof's slack allows (s up to 2^77); the flooding of the
returns is sized to hide the honest shares even from such a key
(:mod:`offchain.lattice.noise`). The sacrifice catches every wrong triple
(a wrong product, a multiplier other than the share claimed, a wrong MAC).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from offchain.dealerless.announce import announce, exchange_keys
from offchain.dealerless.keys import SessionKeys
from offchain.dealerless.returns import CrossProduct, cross_terms
from offchain.engine.session import Session
from offchain.errors import ConfigError
from offchain.field import FieldVec
from offchain.lattice.bgv import Ciphertext, PreparedCiphertext
from offchain.lattice.noise import lowgear_noise, proof_slack_bits
from offchain.lattice.params import RingParams
from offchain.lattice.slots import Plaintext, encode
from offchain.lattice.zkparams import ProofParams
from offchain.preprocessing.tuples import PartyBatch, TupleKey, TupleKind
from offchain.shares import SharedVec

STATISTICAL_SECURITY = 40
"""Flooding must hide a return's noise within statistical distance 2^-40 (the design's figure)."""
_RING_TAG = b"mpcc-lowgear-ring-v1"
_BATCH_TAG = b"mpcc-lowgear-batch-v1"


@dataclass(frozen=True, eq=False)
class LowGear:
    """A party's LowGear state for one session: its keys and every peer's Enc_j(L alpha_j), proven and prepared.

    L is the diagonal proof's ``vouched`` factor (:mod:`offchain.lattice.zkparams`).
    """

    keys: SessionKeys
    mac_key: Mapping[int, PreparedCiphertext]

    @property
    def proof(self) -> ProofParams:
        """The TopGear proof of the batches' announcements: U ciphertexts each."""
        return ProofParams.for_ring(self.keys.params.n)

    @property
    def mac_proof(self) -> ProofParams:
        """The diagonal proof of the MAC key ciphertexts."""
        return ProofParams.diagonal_for_ring(self.keys.params.n)

    @property
    def params(self) -> RingParams:
        return self.keys.params

    @property
    def slots(self) -> int:
        """N, the slots of a ciphertext: a batch makes N/2 checked tuples."""
        return self.keys.params.n


def check_parameters(params: RingParams, parties: int) -> None:
    """Refuses a ring whose worst-case noise could make a decryption wrong or whose flooding hides too little.

    The design asks to recompute the bound of docs/dealerless-noise.md for the
    parameters in use: here, for this ring, this number of parties and the
    slack of the proofs this ring uses (TopGear for the batches, diagonal
    for the MAC key; the larger counts).
    """
    proofs = (ProofParams.for_ring(params.n), ProofParams.diagonal_for_ring(params.n))
    slack = max(proof_slack_bits(p) for p in proofs)
    report = lowgear_noise(params, parties=parties, slack_bits=slack)
    if report.margin_bits <= 0:
        raise ConfigError(f"the ring leaves {report.margin_bits:.1f} bits of noise margin for {parties} parties")
    if report.flood_distance_bits > -STATISTICAL_SECURITY:
        raise ConfigError(f"flooding hides returns only within 2^{report.flood_distance_bits:.1f}")


async def setup(ctx: Session, params: RingParams) -> LowGear:
    """LowGear's once-per-session setup: proven keys, then every party's Enc_i(alpha_i), proven constant.

    The ring is bound into the transcript, so parties
    that chose different rings are caught at the first MAC check even if
    every message parsed.
    """
    bind_ring(ctx, params)
    lowgear, _ = await fresh_setup(ctx, params)
    return lowgear


def bind_ring(ctx: Session, params: RingParams) -> None:
    """Checks the ring for this many parties and binds it into the session's transcript."""
    check_parameters(params, ctx.n_parties)
    ctx.bind(_RING_TAG + params.n.to_bytes(8, "big") + b"".join(q.to_bytes(8, "big") for q in params.primes))


async def fresh_setup(ctx: Session, params: RingParams) -> tuple[LowGear, dict[int, Ciphertext]]:
    """The setup's steps after :func:`bind_ring`; also every peer's vouched MAC key ciphertext, as received."""
    keys = await exchange_keys(ctx, params)
    # alpha_i in every slot is the constant polynomial alpha_i: no transform needed to encode it.
    constant = Plaintext(FieldVec.from_ints([ctx.key.alpha] + [0] * (params.n - 1)))
    announced = await announce(ctx, keys, [constant], ProofParams.diagonal_for_ring(params.n))
    prepared = await asyncio.to_thread(lambda: {j: cts[0].prepared() for j, cts in announced.items()})
    return LowGear(keys, prepared), {j: cts[0] for j, cts in announced.items()}


async def triple_batch(ctx: Session, lowgear: LowGear, ciphertexts: int = 1) -> PartyBatch:
    """k N / 2 triples with as many check triples from k = ``ciphertexts`` per party (steps in the module docstring).

    Every party must ask for the same k. A TopGear proof covers U
    ciphertexts (6 in production) for about the cost of one, the last proof
    padded, so k a multiple of U makes the best use of the proofs.
    """
    size = batch_slots(lowgear, ciphertexts)
    a, b = FieldVec.random(size, ctx.randbytes), FieldVec.random(size, ctx.randbytes)
    announced = await _announce(ctx, lowgear, a)
    batch_id = _batch_id(ctx, TupleKind.TRIPLE)
    cross = await cross_terms(ctx, lowgear.keys, [
        *_products(lowgear, announced, b), *_macs(lowgear, a), *_macs(lowgear, b)])
    ab, mac_a, mac_b = _join(cross, 3)
    shared = [_authenticated(ctx, a, mac_a), _authenticated(ctx, b, mac_b),
              await authenticate(ctx, lowgear, ab.mul_add(a, b))]
    return _halves(ctx, batch_id, TupleKind.TRIPLE, shared)


async def square_batch(ctx: Session, lowgear: LowGear, ciphertexts: int = 1) -> PartyBatch:
    """k N / 2 square pairs (a, a^2) with as many check pairs: the triple steps with b = a, one return fewer."""
    size = batch_slots(lowgear, ciphertexts)
    a = FieldVec.random(size, ctx.randbytes)
    announced = await _announce(ctx, lowgear, a)
    batch_id = _batch_id(ctx, TupleKind.SQUARE)
    cross = await cross_terms(ctx, lowgear.keys, [*_products(lowgear, announced, a), *_macs(lowgear, a)])
    aa, mac_a = _join(cross, 2)
    shared = [_authenticated(ctx, a, mac_a), await authenticate(ctx, lowgear, aa.mul_add(a, a))]
    return _halves(ctx, batch_id, TupleKind.SQUARE, shared)


async def authenticate(ctx: Session, lowgear: LowGear, share: FieldVec) -> SharedVec:
    """This party's authenticated share of x from its share x_i (whole ciphertexts of slots): one round of returns.

    Step 3 of the module docstring on any additive sharing: every peer's
    Enc_j(alpha_j) times x_i gives the cross terms, so the MAC shares sum to
    alpha x whoever chose the x_i.
    """
    (cross,) = _join(await cross_terms(ctx, lowgear.keys, _macs(lowgear, share)), 1)
    return _authenticated(ctx, share, cross)


def batch_slots(lowgear: LowGear, ciphertexts: int) -> int:
    """The slots of ``ciphertexts`` ciphertexts per party (at least one)."""
    if ciphertexts < 1:
        raise ConfigError(f"a batch needs at least one ciphertext per party, not {ciphertexts}")
    return ciphertexts * lowgear.slots


def _chunks(x: FieldVec, n: int) -> list[FieldVec]:
    """``x`` cut into the N slots of each ciphertext."""
    return [x[start:start + n] for start in range(0, len(x), n)]


async def _announce(ctx: Session, lowgear: LowGear, share: FieldVec) -> list[dict[int, PreparedCiphertext]]:
    """Step 1: broadcast Enc_i of each N slots of ``share``, proven; per ciphertext, every peer's 2 C, prepared."""
    if ctx.party != lowgear.keys.party:
        raise ConfigError("this LowGear state belongs to another party")
    chunks = _chunks(share, lowgear.slots)
    plaintexts = await asyncio.to_thread(lambda: [encode(chunk) for chunk in chunks])
    announced = await announce(ctx, lowgear.keys, plaintexts, lowgear.proof)
    return await asyncio.to_thread(
        lambda: [{j: cts[k].prepared() for j, cts in announced.items()} for k in range(len(chunks))])


def _products(lowgear: LowGear, announced: Sequence[Mapping[int, PreparedCiphertext]],
              multiplier: FieldVec) -> list[CrossProduct]:
    """Step 2's products: each announced ciphertext of every peer times this party's slots of ``multiplier``."""
    chunks = _chunks(multiplier, lowgear.slots)
    factor = lowgear.proof.vouched
    return [CrossProduct(operands, chunk, factor) for operands, chunk in zip(announced, chunks, strict=True)]


def _macs(lowgear: LowGear, x: FieldVec) -> list[CrossProduct]:
    """Every peer's Enc_j(alpha_j) times this party's share of ``x``, ciphertext by ciphertext."""
    return [CrossProduct(lowgear.mac_key, chunk, lowgear.mac_proof.vouched) for chunk in _chunks(x, lowgear.slots)]


def _join(cross: Sequence[FieldVec], parts: int) -> list[FieldVec]:
    """The cross terms of ``parts`` vectors, each spread over the same number of ciphertexts, joined back."""
    per = len(cross) // parts
    return [FieldVec.concat(list(cross[k * per:(k + 1) * per])) for k in range(parts)]


def _authenticated(ctx: Session, share: FieldVec, cross_mac: FieldVec) -> SharedVec:
    """(x_i, alpha_i x_i + cross terms): party i's authenticated share of x."""
    return SharedVec(share, cross_mac + share * ctx.key.alpha)


def _batch_id(ctx: Session, kind: TupleKind) -> bytes:
    """A hash of the transcript after this batch's announcements: the same at every honest party, new per batch."""
    return hashlib.sha256(_BATCH_TAG + kind.value.encode() + ctx.transcript_digest()).digest()


def _halves(ctx: Session, batch_id: bytes, kind: TupleKind, shared: Sequence[SharedVec]) -> PartyBatch:
    """The first half of the slots as the tuples, the second half as the checks the sacrifice consumes."""
    half = len(shared[0]) // 2
    return PartyBatch(batch_id, TupleKey(kind), ctx.party, ctx.n_parties,
                      tuple(x[:half] for x in shared), tuple(x[half:2 * half] for x in shared))
