"""Sealed delivery: the service's batches reach each peer's cache only through every check."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from offchain.engine import estimate
from offchain.engine.arith import mul
from offchain.engine.context import Context
from offchain.engine.inputs import input_values
from offchain.engine.opening import output
from offchain.errors import ConfigError, DecodeError, DeliveryRejected
from offchain.field import P, FieldVec
from offchain.identity import Identity, create, hpke_seal
from offchain.net.memory import MemoryNetwork, MemoryTransport, run_parties
from offchain.preprocessing.cache import TupleCache
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.delivery import (ChainBatch, PartyDelivery, SealedBatch, chain_kind, open_batch,
                                             refuse_before_download, seal_batch)
from offchain.preprocessing.protocol import MAX_BODY
from offchain.engine.sacrifice import accept_batch
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import (MAX_BATCH_BYTES, PartyBatch, TupleKey, TupleKind, batch_counts,
                                           max_batch_count)
from offchain_testkit import values_of

N = 3


@pytest.fixture(scope="module")
def orgs(tmp_path_factory: pytest.TempPathFactory) -> list[Identity]:
    return [create(tmp_path_factory.mktemp(f"org{i}"), f"org{i}", f"127.0.0.1:{9000 + i}",
                   b"correct horse") for i in range(N)]


@pytest.fixture(scope="module")
def sealed(orgs: list[Identity]) -> tuple[list[PartyBatch], SealedBatch]:
    parts = Dealer.create(N)[0].triples(6)
    return parts, seal_batch(parts, [o.hpke_public for o in orgs])


def parties(run: Callable[[int, MemoryTransport], Awaitable[object]]) -> list[object]:
    def one(i: int) -> Callable[[MemoryTransport], Awaitable[object]]:
        return lambda t: run(i, t)
    return asyncio.run(run_parties(MemoryNetwork(N, timeout=10), [one(i) for i in range(N)]))


def test_three_peers_open_check_store_and_compute(tmp_path: Path, orgs: list[Identity]) -> None:
    dealer, keys = Dealer.create(N)
    n = 8
    needs = estimate.input_values(0, n) + estimate.input_values(1, n) + estimate.mul(n)
    service = [seal_batch(dealer.batch(key, count), [o.hpke_public for o in orgs])
               for key, count in needs]
    chain = [s.chain_record() for s in service]  # What commitBatch puts on chain.
    stored = [SealedBatch.from_bytes(s.to_bytes()) for s in service]
    served = [[PartyDelivery.from_bytes(s.delivery(i).to_bytes()) for s in stored]
              for i in range(N)]
    opened = [[open_batch(orgs[i], i, d, c) for d, c in zip(served[i], chain)]
              for i in range(N)]
    caches = [TupleCache(tmp_path / f"peer{i}.db") for i in range(N)]

    async def check_and_store(i: int, transport: MemoryTransport) -> list[bytes]:
        ctx = Context(transport, keys[i], MemoryTupleSource())
        transcripts = []
        for batch in opened[i]:
            tuples = await accept_batch(ctx, batch)
            transcripts.append(ctx.transcript_digest())
            caches[i].store(batch.batch_id, tuples, transcript_hash=transcripts[-1])
        return transcripts

    assert values_of(parties(check_and_store))  # Every peer attests the same transcripts.
    reserved = [(s.batch_id, 0, s.header.count) for s in service]  # As the chain reserves.
    x, y = FieldVec.from_ints(range(1, n + 1)), FieldVec.from_ints(range(-5, n - 5))

    async def program(i: int, transport: MemoryTransport) -> FieldVec:
        caches[i].reserve_for_job(42, reserved)
        ctx = Context(transport, keys[i], caches[i].job_source(42))
        xs = await input_values(ctx, 0, x if i == 0 else None, n)
        ys = await input_values(ctx, 1, y if i == 1 else None, n)
        return await output(ctx, await mul(ctx, xs, ys))

    assert values_of(parties(program)).to_ints() == [a * b % P for a, b in zip(x, y)]
    for cache in caches:
        assert all(r.taken == r.count for r in cache.job_ranges(42))
        assert cache.stock() == {"input_mask[owner=0]": 0, "input_mask[owner=1]": 0,
                                 "triple": 0}
        cache.close()


def test_commitment_binds_every_ciphertext_and_the_header(
        sealed: tuple[list[PartyBatch], SealedBatch]) -> None:
    parts, batch = sealed
    record = batch.chain_record()
    assert (record.batch_id, record.kind, record.count) == (parts[0].batch_id,
                                                            TupleKind.TRIPLE, 6)
    assert len(record.commitment) == 32 and chain_kind(TupleKind.TRUNC) == 4
    swapped = SealedBatch(batch.header, batch.ciphertexts[::-1])
    other_size = SealedBatch(dataclasses.replace(batch.header, count=7), batch.ciphertexts)
    assert len({record.commitment, swapped.commitment(), other_size.commitment()}) == 3


def test_each_party_opens_only_its_own_part(orgs: list[Identity],
                                            sealed: tuple[list[PartyBatch], SealedBatch]
                                            ) -> None:
    parts, batch = sealed
    record = batch.chain_record()
    for i in range(N):
        got = open_batch(orgs[i], i, batch.delivery(i), record)
        assert got.to_bytes() == parts[i].to_bytes()
    with pytest.raises(DeliveryRejected, match="addressed to party 1"):
        open_batch(orgs[2], 2, batch.delivery(1), record)
    relabelled = dataclasses.replace(batch.delivery(1), party=2)
    with pytest.raises(DeliveryRejected, match="committed hash of party 2") as info:
        open_batch(orgs[2], 2, relabelled, record)
    assert info.value.party == 2 and info.value.batch_id == batch.batch_id
    with pytest.raises(DeliveryRejected, match="decryption failed"):
        open_batch(orgs[0], 2, batch.delivery(2), record)  # Party 0 holds another key.


def test_a_tampered_ciphertext_is_refused_before_decryption(
        orgs: list[Identity], sealed: tuple[list[PartyBatch], SealedBatch]) -> None:
    _, batch = sealed
    good = batch.delivery(0)
    flipped = good.ciphertext[:-1] + bytes((good.ciphertext[-1] ^ 1,))
    with pytest.raises(DeliveryRejected, match="does not match the committed hash"):
        open_batch(orgs[0], 0, dataclasses.replace(good, ciphertext=flipped),
                   batch.chain_record())


def test_a_commitment_mismatch_is_refused(orgs: list[Identity],
                                          sealed: tuple[list[PartyBatch], SealedBatch]) -> None:
    _, batch = sealed
    record = batch.chain_record()
    wrong = dataclasses.replace(record, commitment=bytes(32))
    with pytest.raises(DeliveryRejected, match="do not match the commitment on chain"):
        open_batch(orgs[0], 0, batch.delivery(0), wrong)
    with pytest.raises(DeliveryRejected, match="the chain says triple/5"):
        open_batch(orgs[0], 0, batch.delivery(0), dataclasses.replace(record, count=5))
    with pytest.raises(DeliveryRejected, match="the chain says square"):
        open_batch(orgs[0], 0, batch.delivery(0),
                   dataclasses.replace(record, kind=TupleKind.SQUARE))
    # A service re-serving a tampered list with fresh hashes cannot match the chain either.
    forged = dataclasses.replace(batch.delivery(0), hashes=(bytes(32),) * N)
    with pytest.raises(DeliveryRejected, match="commitment on chain"):
        open_batch(orgs[0], 0, forged, record)


def test_a_ciphertext_cannot_be_replayed_for_another_party_or_batch(
        orgs: list[Identity], sealed: tuple[list[PartyBatch], SealedBatch]) -> None:
    """Even a service that commits to the replay is caught: HPKE info binds batch and party."""
    parts, batch = sealed
    # Party 1's part sealed to party 2's key but for party 1: the info differs.
    c2 = hpke_seal(orgs[2].hpke_public, parts[1].to_bytes(), batch.header.info(1))
    replay = SealedBatch(batch.header, batch.ciphertexts[:2] + (c2,))
    with pytest.raises(DeliveryRejected, match="decryption failed"):
        open_batch(orgs[2], 2, replay.delivery(2), replay.chain_record())
    # Party 1's part sealed as party 2's: decrypts, but is labelled for party 1.
    c2 = hpke_seal(orgs[2].hpke_public, parts[1].to_bytes(), batch.header.info(2))
    relabel = SealedBatch(batch.header, batch.ciphertexts[:2] + (c2,))
    with pytest.raises(DeliveryRejected, match="labelled for another"):
        open_batch(orgs[2], 2, relabel.delivery(2), relabel.chain_record())
    # A ciphertext of this batch inside another batch's delivery.
    other = seal_batch(Dealer.create(N)[0].triples(6), [o.hpke_public for o in orgs])
    moved = SealedBatch(other.header, (batch.ciphertexts[0],) + other.ciphertexts[1:])
    with pytest.raises(DeliveryRejected, match="decryption failed"):
        open_batch(orgs[0], 0, moved.delivery(0), moved.chain_record())


def test_wire_formats_reject_malformed_bytes(sealed: tuple[list[PartyBatch], SealedBatch]
                                             ) -> None:
    _, batch = sealed
    raw, served = batch.to_bytes(), batch.delivery(1).to_bytes()
    assert raw[0] == 1 and served[0] == 1
    assert SealedBatch.from_bytes(raw) == batch
    assert PartyDelivery.from_bytes(served) == batch.delivery(1)
    for bad in (b"\x02" + raw[1:], raw[:-1], raw + b"\x00", raw[:30]):
        with pytest.raises(DecodeError):
            SealedBatch.from_bytes(bad)
    for bad in (b"\x02" + served[1:], served[:-1], served + b"\x00", served[:60]):
        with pytest.raises(DecodeError):
            PartyDelivery.from_bytes(bad)


def test_seal_batch_refuses_mismatched_parts(orgs: list[Identity]) -> None:
    dealer = Dealer.create(N)[0]
    parts, keys = dealer.triples(2), [o.hpke_public for o in orgs]
    with pytest.raises(ConfigError):
        seal_batch(parts[:2], keys[:2])
    with pytest.raises(ConfigError, match="part 0"):
        seal_batch([parts[1], parts[0], parts[2]], keys)
    with pytest.raises(ConfigError, match="part 1"):
        seal_batch([parts[0], dealer.triples(2)[1], parts[2]], keys)


@pytest.mark.parametrize("kind", [k for k in TupleKind if k is not TupleKind.TRUNC])
def test_the_largest_batch_of_each_kind_is_one_every_peer_accepts(orgs: list[Identity], kind: TupleKind) -> None:
    most = max_batch_count(kind)
    key = TupleKey(kind, owner=0) if kind is TupleKind.INPUT_MASK else TupleKey(kind)
    parts = Dealer.create(N)[0].batch(key, most)
    assert max(len(p.to_bytes()) for p in parts) <= MAX_BATCH_BYTES
    delivery = seal_batch(parts, [o.hpke_public for o in orgs]).delivery(0)
    assert len(delivery.to_bytes()) <= MAX_BODY


def test_a_level_is_split_into_batches_under_the_limit() -> None:
    most = max_batch_count(TupleKind.TRIPLE)
    assert batch_counts(TupleKind.TRIPLE, 3 * most + 7) == [most, most, most, 7]
    assert batch_counts(TupleKind.TRIPLE, most) == [most]
    assert batch_counts(TupleKind.BIT, 0) == []


def test_a_batch_over_the_limit_is_refused_from_its_chain_record_alone() -> None:
    most = max_batch_count(TupleKind.TRIPLE)
    refuse_before_download(ChainBatch(bytes(32), TupleKind.TRIPLE, most, bytes(32)), 1)
    with pytest.raises(DeliveryRejected, match="truncation pairs, whose range nobody can check"):
        refuse_before_download(ChainBatch(bytes(32), TupleKind.TRUNC, 1, bytes(32)), 1)
    with pytest.raises(DeliveryRejected, match=f"holds {most + 1} triple tuples, more than the {most} one batch "
                       "may hold \\(32 MiB per member\\); the preprocessing service must deal smaller batches"):
        refuse_before_download(ChainBatch(bytes(32), TupleKind.TRIPLE, most + 1, bytes(32)), 1)
