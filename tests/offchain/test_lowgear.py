"""LowGear among n parties in one process: wire formats, triple and square batches, the sacrifice, cheaters.

Small rings (N = 64 with thirteen 61-bit primes, so levels, switching and the
noise margin are those of production) carry the protocol tests; the oracle
is the reconstruction of every party's shares with the global MAC key.
Cheaters are played in two ways: by the in-memory network, which rewrites a
message in flight (its one place for a malicious sender: the cheater's code
is the honest code, and only its message differs), or by a cheater's program
written here from the protocol's public steps, for a cheater that knows the
secrets behind what it sends (a witness out of range, a key of its own making).
"""
# ruff: noqa: S101 - pytest asserts.

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import pytest
from dealerless_testkit import PARAMS, keys_for, opened, stream

from offchain.dealerless import check_parameters, setup, square_batch, triple_batch
from offchain.dealerless.announce import announce, broadcast_proven, exchange_keys
from offchain.dealerless.keys import SessionKeys, key_pair, seed_stream, statement, witness
from offchain.dealerless.messages import (
    MESSAGE_VERSION,
    MessageKind,
    announcement_message,
    ciphertext_message,
    key_message,
    pack,
    read_announcement,
    read_ciphertexts,
    read_key,
    read_proof,
    unpack,
)
from offchain.dealerless.returns import return_scale
from offchain.engine.coin import toss
from offchain.engine.comm import broadcast_all
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.errors import ConfigError, DecodeError, MalformedMessage, ProofFailed, ProtocolAbort, SacrificeFailed
from offchain.field import FieldVec, P
from offchain.lattice import ring, sampling
from offchain.lattice.bgv import Ciphertext, PublicKey, encrypt, keygen, keygen_with_witness, return_levels
from offchain.lattice.params import PLAINTEXT_MODULUS, RingParams, production, small
from offchain.lattice.ring import CoeffPoly
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext, encode
from offchain.lattice.wide import WidePoly
from offchain.lattice.wire import (
    ciphertext_from_bytes,
    ciphertext_size,
    ciphertext_to_bytes,
    public_key_from_bytes,
    public_key_size,
    public_key_to_bytes,
)
from offchain.lattice.zk import Preimage
from offchain.lattice.zkparams import ProofParams
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.preprocessing.tuples import PartyBatch, TupleKind, TupleSet

on_kernel = pytest.mark.skipif(ring.BACKEND != "kernel", reason="production size needs the kernel in use")


# Wire formats ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def material() -> tuple[bytes, bytes, bytes]:
    """A public key, a fresh ciphertext and a switched one (scale != 1), as bytes."""
    rb = stream(1)
    _, pk = keygen(PARAMS, rb)
    fresh = encrypt(pk, encode(FieldVec.random(PARAMS.n, rb)), rb)
    low = (fresh * encode(FieldVec.random(PARAMS.n, rb))).switch_to(7)
    return public_key_to_bytes(pk), ciphertext_to_bytes(fresh), ciphertext_to_bytes(low)


def same_ciphertext(x: Ciphertext, y: Ciphertext) -> bool:
    return x.c0 == y.c0 and x.c1 == y.c1 and x.scale == y.scale


def test_public_key_round_trip() -> None:
    rb = stream(2)
    sk, pk = keygen(PARAMS, rb)
    data = public_key_to_bytes(pk)
    assert data[:4] == bytes((1, 1, 6, 13)) and len(data) == public_key_size(PARAMS)
    back = public_key_from_bytes(data, PARAMS)
    assert back.a == pk.a and back.b == pk.b
    x = FieldVec.random(PARAMS.n, rb)
    assert sk.decrypt_slots(encrypt(back, encode(x), rb)) == x  # The parsed key encrypts to the secret key.


def test_ciphertext_round_trip_keeps_level_and_scale() -> None:
    rb = stream(3)
    sk, pk = keygen(PARAMS, rb)
    x, y = FieldVec.random(PARAMS.n, rb), FieldVec.random(PARAMS.n, rb)
    fresh = encrypt(pk, encode(x), rb)
    low = (fresh * encode(y)).switch_to(6)
    for ct in (fresh, low):
        data = ciphertext_to_bytes(ct)
        assert data[:4] == bytes((1, 2, 6, ct.levels)) and len(data) == ciphertext_size(PARAMS, ct.levels)
        assert same_ciphertext(ciphertext_from_bytes(data, PARAMS), ct)
    assert low.scale != 1 and sk.decrypt_slots(ciphertext_from_bytes(ciphertext_to_bytes(low), PARAMS)) == x * y


def patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new):]


def residue_at_prime(data: bytes, offset: int, prime: int) -> bytes:
    """The bytes with the residue at ``offset`` replaced by the prime itself (one past the largest valid)."""
    return patch(data, offset, prime.to_bytes(8, "little"))


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda d: d[:-1], id="truncated"),
    pytest.param(lambda d: d + b"\x00", id="trailing"),
    pytest.param(lambda d: d[:3], id="no-head"),
    pytest.param(lambda d: patch(d, 0, b"\x02"), id="version"),
    pytest.param(lambda d: patch(d, 1, b"\x01"), id="read-as-key"),
    pytest.param(lambda d: patch(d, 2, b"\x07"), id="dimension"),
    pytest.param(lambda d: patch(d, 2, b"\xff"), id="huge-dimension"),
    pytest.param(lambda d: patch(d, 3, b"\x00"), id="no-primes"),
    pytest.param(lambda d: patch(d, 3, b"\x0e"), id="more-primes-than-the-ring"),
    pytest.param(lambda d: patch(d, 4, bytes(32)), id="scale-zero"),
    pytest.param(lambda d: patch(d, 4, PLAINTEXT_MODULUS.to_bytes(32, "big")), id="scale-r"),
    pytest.param(lambda d: residue_at_prime(d, 36, PARAMS.primes[0]), id="c0-residue"),
    pytest.param(lambda d: residue_at_prime(d, len(d) - 8, PARAMS.primes[12]), id="c1-last-residue"),
])
def test_malformed_ciphertexts_are_refused(material: tuple[bytes, bytes, bytes],
                                           mutate: Callable[[bytes], bytes]) -> None:
    _, fresh, _ = material
    with pytest.raises(DecodeError):
        ciphertext_from_bytes(mutate(fresh), PARAMS)


def test_malformed_public_keys_are_refused(material: tuple[bytes, bytes, bytes]) -> None:
    key, fresh, low = material
    bad = [key[:-8], patch(key, 0, b"\x00"), patch(key, 1, b"\x02"), patch(key, 3, b"\x06"),
           residue_at_prime(key, 4 + 8 * PARAMS.n, PARAMS.primes[1]), fresh]
    for data in bad:
        with pytest.raises(DecodeError):
            public_key_from_bytes(data, PARAMS)
    with pytest.raises(DecodeError):  # A ring with other primes has other residue rows and sizes.
        public_key_from_bytes(key, small(64, 11))
    with pytest.raises(DecodeError):
        ciphertext_from_bytes(low, small(32, 13))
    # A switched ciphertext at 7 primes fits any ring of the same dimension with at least 7 primes.
    assert ciphertext_from_bytes(low, PARAMS).levels == 7


def test_messages_refuse_other_framing(material: tuple[bytes, bytes, bytes]) -> None:
    _, fresh, low = material
    message = pack(MessageKind.RETURNS, [low, low])
    levels, scale = return_levels(PARAMS), return_scale(PARAMS)
    assert len(read_ciphertexts(message, MessageKind.RETURNS, PARAMS, 2, levels, scale)) == 2
    for data, kind, count in [(message, MessageKind.ANNOUNCEMENT, 2), (message, MessageKind.RETURNS, 3),
                              (message[:-1], MessageKind.RETURNS, 2), (message + b"\x00", MessageKind.RETURNS, 2),
                              (patch(message, 0, b"\x09"), MessageKind.RETURNS, 2)]:
        with pytest.raises(DecodeError):
            unpack(data, kind, count)
    with pytest.raises(DecodeError, match="scale"):  # A fresh ciphertext where a return was due.
        read_ciphertexts(pack(MessageKind.RETURNS, [fresh]), MessageKind.RETURNS, PARAMS, 1, levels, scale)


def test_proof_and_key_messages_refuse_other_framing(material: tuple[bytes, bytes, bytes]) -> None:
    key, fresh, low = material
    digest = bytes(range(32))
    cts, digests = read_announcement(pack(MessageKind.ANNOUNCEMENT, [fresh, digest]), PARAMS, 1, 1)
    assert digests == [digest] and same_ciphertext(cts[0], ciphertext_from_bytes(fresh, PARAMS))
    for items in ([fresh, digest[:31]], [low, digest], [fresh], [fresh, digest, digest]):
        with pytest.raises(DecodeError):
            read_announcement(pack(MessageKind.ANNOUNCEMENT, items), PARAMS, 1, 1)
    pk = read_key(pack(MessageKind.KEY, [key]), PARAMS)
    assert pk.a == public_key_from_bytes(key, PARAMS).a and pk.b == public_key_from_bytes(key, PARAMS).b
    for items in ([key, digest], [key[:-1]], [fresh], []):
        with pytest.raises(DecodeError):
            read_key(pack(MessageKind.KEY, items), PARAMS)
    with pytest.raises(DecodeError):  # An announcement where a key is due.
        read_key(pack(MessageKind.ANNOUNCEMENT, [key]), PARAMS)
    with pytest.raises(DecodeError):
        read_proof(pack(MessageKind.PROOF, [b"\x01" * 10]), ProofParams.for_ring(PARAMS.n), 1)


# The protocol ------------------------------------------------------------------------------------
@dataclass
class Run:
    """One party's results: its batches, the checked tuple sets, and the bytes it gave its transport."""

    batches: list[PartyBatch]
    checked: list[TupleSet]
    bytes_sent: int


Program = Callable[[Session], Awaitable[object]]
"""A cheater's program in place of the honest one: it gets the party's session."""


def run_lowgear(n: int, kinds: list[TupleKind], network: MemoryNetwork | None = None,
                params: RingParams = PARAMS, rings: list[RingParams] | None = None,
                ciphertexts: int = 1, cheaters: dict[int, Program] | None = None) -> list[Run | object]:
    """n parties: setup, then one batch of each kind, each accepted by the sacrifice; ``cheaters`` run their own."""
    keys = keys_for(n)
    make = {TupleKind.TRIPLE: triple_batch, TupleKind.SQUARE: square_batch}

    def party(i: int) -> Callable[[MemoryTransport], Awaitable[object]]:
        async def run(t: MemoryTransport) -> object:
            ctx = Session(t, keys[i], randbytes=stream(10 + i))
            if cheaters and i in cheaters:
                return await cheaters[i](ctx)
            lowgear = await setup(ctx, rings[i] if rings else params)
            batches, checked = [], []
            for kind in kinds:
                batch = await make[kind](ctx, lowgear, ciphertexts)
                batches.append(batch)
                checked.append(await accept_batch(ctx, batch))
            return Run(batches, checked, t.stats.bytes_sent)
        return run

    net = network or MemoryNetwork(n, timeout=120)
    return asyncio.run(run_parties(net, [party(i) for i in range(n)]))


def successes(results: list[Run | object]) -> list[Run]:
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if isinstance(r, Run)]


@pytest.mark.parametrize("n,ciphertexts", [(2, 1), (3, 1), (2, 3)])
def test_triples_pass_the_sacrifice_and_are_products(n: int, ciphertexts: int) -> None:
    runs = successes(run_lowgear(n, [TupleKind.TRIPLE, TupleKind.TRIPLE], ciphertexts=ciphertexts))
    keys = keys_for(n)
    count = ciphertexts * PARAMS.n // 2
    for index in range(2):
        batches = [r.batches[index] for r in runs]
        assert len({b.batch_id for b in batches}) == 1 and batches[0].count == count
        assert [b.party for b in batches] == list(range(n)) and all(b.n_parties == n for b in batches)
        for part in ("columns", "checks"):
            a, b, c = (opened([getattr(batch, part)[k] for batch in batches], keys) for k in range(3))
            assert c == a * b and len(set(a)) == len(a)  # Products of distinct random values.
        assert all(len(r.checked[index]) == count for r in runs)
    assert runs[0].batches[0].batch_id != runs[0].batches[1].batch_id


@pytest.mark.parametrize("n,ciphertexts", [(3, 1), (2, 2)])
def test_square_pairs_pass_the_sacrifice_and_are_squares(n: int, ciphertexts: int) -> None:
    runs = successes(run_lowgear(n, [TupleKind.SQUARE], ciphertexts=ciphertexts))
    keys = keys_for(n)
    batches = [r.batches[0] for r in runs]
    assert len({b.batch_id for b in batches}) == 1 and batches[0].key.kind is TupleKind.SQUARE
    for part in ("columns", "checks"):
        a, square = (opened([getattr(batch, part)[k] for batch in batches], keys) for k in range(2))
        assert square == a * a and len(a) == ciphertexts * PARAMS.n // 2


def test_a_ring_without_noise_margin_is_refused() -> None:
    with pytest.raises(ConfigError, match="margin"):
        check_parameters(small(64, 3), 3)  # One prime after switching cannot hold the flooding.
    check_parameters(PARAMS, 10)


def test_parties_on_different_rings_abort() -> None:
    results = run_lowgear(2, [TupleKind.TRIPLE], rings=[PARAMS, small(32, 13)])
    assert all(isinstance(r, ProtocolAbort) for r in results)
    assert any(isinstance(r, MalformedMessage) for r in results)


# Cheaters ----------------------------------------------------------------------------------------
Change = Callable[[Ciphertext, Ciphertext], Ciphertext]


class CheatingNetwork(MemoryNetwork):
    """Party ``cheater`` changes one ciphertext of its first triple-batch returns to ``victim``.

    ``change(returned, announced)`` gets the returned ciphertext and the
    victim's announced Enc(a_victim) of the same batch, which the cheater
    holds as every party does.
    """

    def __init__(self, n: int, cheater: int, victim: int, position: int, change: Change) -> None:
        super().__init__(n, timeout=120)
        self.cheater, self.victim, self.position, self.change = cheater, victim, position, change
        self.announced: Ciphertext | None = None
        self.done = False

    def deliver(self, frm: int, to: int, payload: bytes) -> None:
        # The victim's last announcement before the returns is its batch's (the first was its MAC key's).
        if (frm, to) == (self.victim, self.cheater) and self._is(payload, MessageKind.ANNOUNCEMENT, 2):
            (self.announced,), _ = read_announcement(payload, PARAMS, 1, 1)
        elif (frm, to) == (self.cheater, self.victim) and not self.done and self._is(payload, MessageKind.RETURNS, 3):
            assert self.announced is not None
            returns = read_ciphertexts(payload, MessageKind.RETURNS, PARAMS, 3, return_levels(PARAMS),
                                       return_scale(PARAMS))
            returns[self.position] = self.change(returns[self.position], self.announced)
            payload, self.done = ciphertext_message(MessageKind.RETURNS, returns), True
        super().deliver(frm, to, payload)

    @staticmethod
    def _is(payload: bytes, kind: MessageKind, count: int) -> bool:
        try:
            unpack(payload, kind, count)
        except DecodeError:
            return False
        return True


def add_one_at(slot: int) -> Change:
    """Adds 1 to one slot of the returned plaintext (the cheater's product or MAC is off there)."""
    unit = encode(FieldVec.from_ints([int(k == slot) for k in range(PARAMS.n)]))
    return lambda returned, _: returned + unit


def another_multiplier(returned: Ciphertext, announced: Ciphertext) -> Ciphertext:
    """Enc(a_v b_j - r) becomes Enc(a_v (b_j + 1) - r): the cheater multiplied by b_j + 1, not its share b_j."""
    extra = (announced * encode(FieldVec.full(PARAMS.n, 1))).switch_to(return_levels(PARAMS))
    return returned + extra


@pytest.mark.parametrize("n,position,change", [
    pytest.param(3, 0, add_one_at(5), id="product+1-in-a-triple"),
    pytest.param(2, 0, add_one_at(PARAMS.n - 1), id="product+1-in-a-check-triple"),
    pytest.param(3, 0, another_multiplier, id="another-b"),
    pytest.param(3, 2, add_one_at(7), id="mac-of-b+1"),
])
def test_a_cheating_return_fails_the_sacrifice_everywhere(n: int, position: int, change: Change) -> None:
    network = CheatingNetwork(n, cheater=n - 1, victim=0, position=position, change=change)
    results = run_lowgear(n, [TupleKind.TRIPLE], network)
    assert network.done
    assert all(isinstance(r, SacrificeFailed) and r.kind == "triple" for r in results), results


def test_a_garbled_return_is_a_malformed_message() -> None:
    class Garbling(MemoryNetwork):
        def deliver(self, frm: int, to: int, payload: bytes) -> None:
            if (frm, to) == (1, 0) and CheatingNetwork._is(payload, MessageKind.RETURNS, 3):
                payload = payload[:-1]
            super().deliver(frm, to, payload)

    results = run_lowgear(3, [TupleKind.TRIPLE], Garbling(3, timeout=120))
    assert isinstance(results[0], MalformedMessage) and results[0].party == 1
    assert all(isinstance(r, ProtocolAbort) for r in results)


# Proofs ------------------------------------------------------------------------------------------
CHEATER = 2


def kind_of(payload: bytes) -> MessageKind | None:
    """The kind of a LowGear message, None for anything else (the joint coin's commitments and openings)."""
    if len(payload) < 4 or payload[0] != MESSAGE_VERSION or payload[1] not in {k.value for k in MessageKind}:
        return None
    kind = MessageKind(payload[1])
    try:
        unpack(payload, kind, int.from_bytes(payload[2:4], "big"))
    except DecodeError:
        return None
    return kind


class RecordingNetwork(MemoryNetwork):
    """Logs (sender, receiver, kind) of every message; ``rewrite`` may change a message in flight."""

    def __init__(self, n: int) -> None:
        super().__init__(n, timeout=120)
        self.log: list[tuple[int, int, MessageKind | None]] = []
        self.counts: dict[tuple[int, int, MessageKind | None], int] = {}

    def deliver(self, frm: int, to: int, payload: bytes) -> None:
        kind = kind_of(payload)
        self.log.append((frm, to, kind))
        self.counts[frm, to, kind] = self.counts.get((frm, to, kind), 0) + 1
        super().deliver(frm, to, self.rewrite(frm, to, kind, self.counts[frm, to, kind], payload))

    def rewrite(self, frm: int, to: int, kind: MessageKind | None, nth: int, payload: bytes) -> bytes:
        return payload

    def sent(self, frm: int, kind: MessageKind) -> int:
        return sum(1 for f, _, k in self.log if f == frm and k is kind)


def refused(results: list[Run | object], culprit: int = CHEATER, check: str | None = None) -> None:
    """Every honest party raised ProofFailed naming ``culprit`` (and only it), for ``check`` if given."""
    for i, r in enumerate(results):
        if i != culprit:
            assert isinstance(r, ProofFailed), (i, r)
            assert r.culprits == (culprit,) and r.parties == (culprit,) and f"party {culprit}" in str(r)
            assert check is None or r.check == check, r


def test_every_announcement_is_proven_before_any_return() -> None:
    network = RecordingNetwork(3)
    successes(run_lowgear(3, [TupleKind.TRIPLE], network))
    kind, coin = MessageKind, None
    proven = [kind.ANNOUNCEMENT, coin, coin, kind.PROOF]
    for frm, to in ((0, 1), (2, 0)):
        kinds = [k for f, t, k in network.log if (f, t) == (frm, to)]
        # The key, then its statement, the MAC key and the batch, each: announcement, coin, proof.
        assert kinds[:14] == [kind.KEY, *proven, *proven, *proven, kind.RETURNS]
    for i in range(3):
        first_return = next(p for p, (f, _, k) in enumerate(network.log) if f == i and k is kind.RETURNS)
        proofs_in = [p for p, (_, t, k) in enumerate(network.log) if t == i and k is kind.PROOF]
        assert len(proofs_in) == 6 and max(proofs_in) < first_return


def plaintext_out_of_range(ct: Ciphertext) -> Ciphertext:
    """r^2 added to a coefficient: the slots decrypt as before, the plaintext is far outside (-r/2, r/2]."""
    return Ciphertext(ct.c0 + CoeffPoly.from_ints([P * P if j == 5 else 0 for j in range(PARAMS.n)], PARAMS), ct.c1)


def huge_noise(ct: Ciphertext) -> Ciphertext:
    return Ciphertext(ct.c0 + CoeffPoly.from_ints([P << 200] + [0] * (PARAMS.n - 1), PARAMS), ct.c1)


class AnnouncingOther(RecordingNetwork):
    """The cheater's batch announcement reaches every peer with its ciphertext changed, its proof unchanged."""

    def __init__(self, n: int, change: Callable[[Ciphertext], Ciphertext]) -> None:
        super().__init__(n)
        self.change = change

    def rewrite(self, frm: int, to: int, kind: MessageKind | None, nth: int, payload: bytes) -> bytes:
        if frm == CHEATER and kind is MessageKind.ANNOUNCEMENT and nth == 2:  # The first is the MAC key's.
            (ct,), digests = read_announcement(payload, PARAMS, 1, 1)
            return announcement_message([self.change(ct)], digests)
        return payload


@pytest.mark.parametrize("change", [plaintext_out_of_range, huge_noise])
def test_an_ill_formed_announcement_is_refused_before_any_return(change: Callable[[Ciphertext], Ciphertext]) -> None:
    network = AnnouncingOther(3, change)
    results = run_lowgear(3, [TupleKind.TRIPLE], network)
    refused(results, check="linear relation")
    assert network.sent(0, MessageKind.RETURNS) == network.sent(1, MessageKind.RETURNS) == 0


def bad_witness(part: str) -> Preimage:
    """A preimage with one coefficient far beyond its honest bound, yet small enough for the response's wire width.

    A response coefficient of w bytes is below 2^(8w - 1) (2^311 for the
    plaintext at N = 64, 2^63 for noise); a witness beyond that leaves the
    cheater nothing to send. So: 2^309 (2^55 r) in the plaintext, 2^61 noise.
    """
    rb = stream(40)
    parts = {"m": WidePoly.from_field(FieldVec.random(PARAMS.n, rb)), "v": WidePoly.from_small(
        sampling.ternary(PARAMS.n, rb)), "e0": WidePoly.from_small(sampling.cbd(PARAMS.n, rb)),
        "e1": WidePoly.from_small(sampling.cbd(PARAMS.n, rb))}
    parts[part] = WidePoly.from_ints([(2**309 if part == "m" else 2**61) * (j == 3) for j in range(PARAMS.n)])
    return Preimage(**parts)


def proving_an_ill_formed_share(part: str) -> Program:
    """The cheater's batch: the honest setup, then a ciphertext announced with an ill-formed preimage it knows."""
    async def cheat(ctx: Session) -> None:
        lowgear = await setup(ctx, PARAMS)
        witness = bad_witness(part)
        await broadcast_proven(ctx, lowgear.keys, [witness.encrypt(lowgear.keys.public[ctx.party])], [witness],
                               lowgear.proof)
    return cheat


@pytest.mark.parametrize(("part", "check"), [("m", "plaintext bound"), ("e0", "noise e0 bound")])
def test_a_proven_ill_formed_share_is_refused(part: str, check: str) -> None:
    network = RecordingNetwork(3)
    results = run_lowgear(3, [TupleKind.TRIPLE], network, cheaters={CHEATER: proving_an_ill_formed_share(part)})
    refused(results, check=check)
    assert results[CHEATER] is None  # The honest proofs passed the cheater's checks.
    assert network.sent(0, MessageKind.RETURNS) == network.sent(1, MessageKind.RETURNS) == 0


class TamperingProof(RecordingNetwork):
    """One byte of the cheater's batch proof (a plaintext response coefficient) flipped, for every receiver."""

    def rewrite(self, frm: int, to: int, kind: MessageKind | None, nth: int, payload: bytes) -> bytes:
        if frm == CHEATER and kind is MessageKind.PROOF and nth == 3:
            (response,) = read_proof(payload, ProofParams.for_ring(PARAMS.n), 1)
            assert len(response.rows) == 6
            return patch(payload, 4 + 4 + 6 + 100, bytes((payload[114] ^ 0x10,)))
        return payload


def test_a_tampered_proof_response_is_refused() -> None:
    network = TamperingProof(3)
    results = run_lowgear(3, [TupleKind.TRIPLE], network)
    refused(results, check="linear relation")
    assert network.sent(0, MessageKind.RETURNS) == network.sent(1, MessageKind.RETURNS) == 0


async def announcing_a_mac_key_that_is_not_constant(ctx: Session) -> None:
    """The setup with alpha_i in the constant coefficient and 1 in the next: its slots are not all alpha_i."""
    keys = await exchange_keys(ctx, PARAMS)
    coefficients = [ctx.key.alpha, 1] + [0] * (PARAMS.n - 2)
    await announce(ctx, keys, [Plaintext(FieldVec.from_ints(coefficients))], ProofParams.diagonal_for_ring(PARAMS.n))


def test_a_mac_key_ciphertext_that_is_not_constant_is_refused() -> None:
    network = RecordingNetwork(3)
    results = run_lowgear(3, [TupleKind.TRIPLE], network, cheaters={CHEATER: announcing_a_mac_key_that_is_not_constant})
    refused(results, check="linear relation")  # The wire carries constant responses only.
    assert all(network.sent(i, MessageKind.RETURNS) == 0 for i in range(3))


def test_a_mac_key_announced_with_an_ordinary_proof_is_refused() -> None:
    """A TopGear proof for the MAC key (a shape other than the diagonal proof's) does not parse as one."""
    async def cheat(ctx: Session) -> None:
        keys = await exchange_keys(ctx, PARAMS)
        constant = Plaintext(FieldVec.from_ints([ctx.key.alpha] + [0] * (PARAMS.n - 1)))
        await announce(ctx, keys, [constant], ProofParams(PARAMS.n, u=1, v=12))

    results = run_lowgear(3, [TupleKind.TRIPLE], cheaters={CHEATER: cheat})
    assert all(isinstance(r, MalformedMessage) and r.party == CHEATER for i, r in enumerate(results) if i != CHEATER)


# Key checks ----------------------------------------------------------------------------------------
def test_a_key_pair_derives_from_its_seed_and_is_the_statement_its_witness_encrypts() -> None:
    seed = stream(50)(32)
    (s1, pk1), (_, pk2) = key_pair(PARAMS, seed), key_pair(PARAMS, seed)
    assert pk1.a == pk2.a and pk1.b == pk2.b and "<secret>" in repr(s1)
    assert key_pair(PARAMS, stream(51)(32))[1].b != pk1.b
    draw = seed_stream(seed)
    assert draw(5) != draw(5) and seed_stream(seed)(5) == seed_stream(seed)(5)
    with pytest.raises(ConfigError):
        seed_stream(b"short")
    # keygen's key, with its s and e: (0, s, 0, e) encrypts to (0, b) under (a, 0), the key's statement.
    secret, public, s, e = keygen_with_witness(PARAMS, seed_stream(seed))
    assert public.b == pk1.b and set(s.tolist()) <= {-1, 0, 1} and max(abs(e)) <= 21
    under, stated = statement(public)
    made = witness(s, e).encrypt(under)
    assert made.c0 == stated.c0 == CoeffPoly.zeros(PARAMS) and made.c1 == stated.c1 == public.b.intt()


KeyMaker = Callable[[RingParams, RandBytes], tuple[PublicKey, np.ndarray, np.ndarray, PublicKey]]
"""A cheater's key: the public key it broadcasts, the s and e it proves with, and the key it proves."""


def key_with_large_secret(params: RingParams, randbytes: RandBytes) -> tuple[PublicKey, np.ndarray, np.ndarray,
                                                                           PublicKey]:
    """b = a s + t e with s in {-2^53, 0, 2^53}: its responses pass the proof's bound (2^54 at N = 64) about
    once in four coefficients (they still fit the wire's 7 bytes, so they reach the check)."""
    _, honest, s, e = keygen_with_witness(params, randbytes)
    big = s * (1 << 53)
    b = honest.a * CoeffPoly.from_ints([int(x) for x in big], params).ntt() + \
        CoeffPoly.from_small(e, params).scale(PLAINTEXT_MODULUS).ntt()
    pk = PublicKey(honest.a, b)
    return pk, big, e, pk


def key_without_a_small_secret(params: RingParams, randbytes: RandBytes) -> tuple[PublicKey, np.ndarray, np.ndarray,
                                                                                PublicKey]:
    """A uniform b, which no small s and e make: the cheater proves with an honest key's s and e."""
    _, honest, s, e = keygen_with_witness(params, randbytes)
    pk = PublicKey(honest.a, sampling.uniform_poly(params, randbytes))
    return pk, s, e, pk


def another_key_proven(params: RingParams, randbytes: RandBytes) -> tuple[PublicKey, np.ndarray, np.ndarray,
                                                                        PublicKey]:
    """Two well-formed keys on the same a: one broadcast, the other proven."""
    _, shown, _, _ = keygen_with_witness(params, randbytes)
    _, _, s, e = keygen_with_witness(params, randbytes)
    b = shown.a * CoeffPoly.from_small(s, params).ntt() + CoeffPoly.from_small(e, params).scale(PLAINTEXT_MODULUS).ntt()
    return shown, s, e, PublicKey(shown.a, b)


def cheating_key_exchange(make: KeyMaker) -> Program:
    """exchange_keys's public steps with the cheater's key and witness."""
    async def cheat(ctx: Session) -> None:
        shown, s, e, proven = make(PARAMS, ctx.randbytes)
        sent = await broadcast_all(ctx, key_message(shown))
        keys = [read_key(sent[j], PARAMS) if j != ctx.party else proven for j in range(ctx.n_parties)]
        statements = [statement(pk) for pk in keys]
        secret, _ = key_pair(PARAMS, stream(71)(32))  # Any secret: the proof does not use it.
        proving = SessionKeys(PARAMS, ctx.party, secret, tuple(under for under, _ in statements))
        await broadcast_proven(ctx, proving, [statements[ctx.party][1]], [witness(s, e)])
    return cheat


@pytest.mark.parametrize(("make", "check"), [(key_with_large_secret, "ternary randomness bound"),
                                             (key_without_a_small_secret, "linear relation"),
                                             (another_key_proven, "public key")],
                         ids=["secret out of bounds", "no small secret", "another key proven"])
def test_a_key_that_is_not_proven_well_formed_is_refused_before_any_announcement(make: KeyMaker,
                                                                                  check: str | None) -> None:
    network = RecordingNetwork(3)
    results = run_lowgear(3, [TupleKind.TRIPLE], network, cheaters={CHEATER: cheating_key_exchange(make)})
    refused(results, check=check)
    # Nothing was encrypted under any key: the only announcements are the keys' statements.
    assert all(network.sent(i, MessageKind.ANNOUNCEMENT) == 2 for i in range(3))
    assert all(network.sent(i, MessageKind.RETURNS) == 0 for i in range(3))


def test_every_party_holds_the_keys_its_peers_proved() -> None:
    async def keys_only(ctx: Session) -> tuple[PublicKey, ...]:
        return (await exchange_keys(ctx, PARAMS)).public

    network = RecordingNetwork(2)
    results = asyncio.run(run_parties(network, [
        lambda t, i=i: keys_only(Session(t, keys_for(2)[i], randbytes=stream(10 + i))) for i in range(2)]))
    mine, theirs = results
    assert isinstance(mine, tuple) and isinstance(theirs, tuple)
    assert all(x.a == y.a and x.b == y.b for x, y in zip(mine, theirs, strict=True))
    assert mine[0].b != mine[1].b


# Production size ---------------------------------------------------------------------------------
@on_kernel
def test_production_size_triples() -> None:
    """N = 2^15 and thirteen primes, 3 parties, with every proof (keys included): 16384 checked triples
    (benchmarks/lowgear.py)."""
    runs = successes(run_lowgear(3, [TupleKind.TRIPLE], params=production()))
    keys = keys_for(3)
    a, b, c = (opened([r.checked[0].columns[k] for r in runs], keys) for k in range(3))
    assert len(c) == production().n // 2 and c == a * b
