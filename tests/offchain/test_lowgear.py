"""LowGear among n parties in one process: wire formats, triple and square batches, the sacrifice, cheaters.

Small rings (N = 64 with twelve 61-bit primes, so levels, switching and the
noise margin are those of production) carry the protocol tests; the oracle
is the reconstruction of every party's shares with the global MAC key.
Cheaters are played by the in-memory network, which rewrites a message in
flight (its one place for a malicious sender): the cheater's code is the
honest code, and only its message differs.
"""
# ruff: noqa: S101, S311 - pytest asserts, and seeded `random` makes reproducible test data (never secrets).

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from offchain.dealerless import check_parameters, setup, square_batch, triple_batch
from offchain.dealerless.messages import MessageKind, ciphertext_message, pack, read_ciphertexts, unpack
from offchain.dealerless.returns import return_scale
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.errors import ConfigError, DecodeError, MalformedMessage, ProtocolAbort, SacrificeFailed
from offchain.field import FieldVec, P
from offchain.lattice import ring
from offchain.lattice.bgv import Ciphertext, encrypt, keygen, return_levels
from offchain.lattice.params import PLAINTEXT_MODULUS, RingParams, production, small
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import encode
from offchain.lattice.wire import (
    ciphertext_from_bytes,
    ciphertext_size,
    ciphertext_to_bytes,
    public_key_from_bytes,
    public_key_size,
    public_key_to_bytes,
)
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.preprocessing.tuples import PartyBatch, TupleKind, TupleSet
from offchain.shares import MacKeyShare, SharedVec, reconstruct, split_key

PARAMS = small(64, 12)
on_kernel = pytest.mark.skipif(ring.BACKEND != "kernel", reason="production size needs the kernel in use")


def stream(seed: int) -> RandBytes:
    return random.Random(seed).randbytes


# Wire formats ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def material() -> tuple[bytes, bytes, bytes]:
    """A public key, a fresh ciphertext and a switched one (scale != 1), as bytes."""
    rb = stream(1)
    _, pk = keygen(PARAMS, rb)
    fresh = encrypt(pk, encode(FieldVec.random(PARAMS.n, rb)), rb)
    low = (fresh * encode(FieldVec.random(PARAMS.n, rb))).switch_to(6)
    return public_key_to_bytes(pk), ciphertext_to_bytes(fresh), ciphertext_to_bytes(low)


def same_ciphertext(x: Ciphertext, y: Ciphertext) -> bool:
    return x.c0 == y.c0 and x.c1 == y.c1 and x.scale == y.scale


def test_public_key_round_trip() -> None:
    rb = stream(2)
    sk, pk = keygen(PARAMS, rb)
    data = public_key_to_bytes(pk)
    assert data[:4] == bytes((1, 1, 6, 12)) and len(data) == public_key_size(PARAMS)
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
    pytest.param(lambda d: patch(d, 3, b"\x0d"), id="more-primes-than-the-ring"),
    pytest.param(lambda d: patch(d, 4, bytes(32)), id="scale-zero"),
    pytest.param(lambda d: patch(d, 4, PLAINTEXT_MODULUS.to_bytes(32, "big")), id="scale-r"),
    pytest.param(lambda d: residue_at_prime(d, 36, PARAMS.primes[0]), id="c0-residue"),
    pytest.param(lambda d: residue_at_prime(d, len(d) - 8, PARAMS.primes[11]), id="c1-last-residue"),
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
        ciphertext_from_bytes(low, small(32, 12))
    # A switched ciphertext at 6 primes fits any ring of the same dimension with at least 6 primes.
    assert ciphertext_from_bytes(low, PARAMS).levels == 6


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


# The protocol ------------------------------------------------------------------------------------
@dataclass
class Run:
    """One party's results: its batches, the checked tuple sets, and the bytes it gave its transport."""

    batches: list[PartyBatch]
    checked: list[TupleSet]
    bytes_sent: int


def keys_for(n: int) -> list[MacKeyShare]:
    return split_key(FieldVec.random(1, stream(99))[0], n, stream(98))


def run_lowgear(n: int, kinds: list[TupleKind], network: MemoryNetwork | None = None,
                params: RingParams = PARAMS, rings: list[RingParams] | None = None,
                ciphertexts: int = 1) -> list[Run | BaseException]:
    """n parties: setup, then one batch of each kind, each accepted by the sacrifice."""
    keys = keys_for(n)
    make = {TupleKind.TRIPLE: triple_batch, TupleKind.SQUARE: square_batch}

    def party(i: int) -> Callable[[MemoryTransport], Awaitable[Run]]:
        async def run(t: MemoryTransport) -> Run:
            ctx = Session(t, keys[i], randbytes=stream(10 + i))
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


def successes(results: list[Run | BaseException]) -> list[Run]:
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if isinstance(r, Run)]


def opened(parts: list[SharedVec], keys: list[MacKeyShare]) -> FieldVec:
    """The shared values, after checking every MAC against alpha times the value (MacCheckFailed if not)."""
    return reconstruct(parts, sum(k.alpha for k in keys) % P)


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
    results = run_lowgear(2, [TupleKind.TRIPLE], rings=[PARAMS, small(32, 12)])
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
        if (frm, to) == (self.victim, self.cheater) and self._is(payload, MessageKind.ANNOUNCEMENT, 1):
            (self.announced,) = read_ciphertexts(payload, MessageKind.ANNOUNCEMENT, PARAMS, 1, PARAMS.levels, 1)
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


# Production size ---------------------------------------------------------------------------------
@on_kernel
def test_production_size_triples() -> None:
    """N = 2^15 and twelve primes, 3 parties: 16384 checked triples (benchmarks/lowgear.py times it)."""
    runs = successes(run_lowgear(3, [TupleKind.TRIPLE], params=production()))
    keys = keys_for(3)
    a, b, c = (opened([r.checked[0].columns[k] for r in runs], keys) for k in range(3))
    assert len(c) == production().n // 2 and c == a * b
