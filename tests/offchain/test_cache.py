"""The SQLite tuple cache hands out every tuple once, across reopenings and SIGKILLs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.dealing import unchecked
from offchain.errors import ConfigError, TupleReused, TuplesExhausted
from offchain.field import FieldVec
from offchain.preprocessing.cache import CHUNK_TUPLES, TupleCache
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.tuples import TupleKey, TupleKind, TupleSet

TRIPLE = TupleKey(TupleKind.TRIPLE)
MASK0 = TupleKey(TupleKind.INPUT_MASK, owner=0)
CHILD = Path(__file__).with_name("cache_crash_child.py")


def triples(dealer: Dealer, n: int, party: int = 0) -> tuple[bytes, TupleSet]:
    batch = dealer.triples(n)[party]
    return batch.batch_id, unchecked(batch)


def ids(tuples: TupleSet) -> list[int]:
    """The first share of each tuple: random, so it identifies the tuple."""
    return tuples.columns[0].share.to_ints()


@pytest.fixture
def dealer() -> Dealer:
    return Dealer.create(3)[0]


def test_take_is_fifo_across_batches_and_returns_the_stored_tuples(tmp_path: Path,
                                                                   dealer: Dealer) -> None:
    stored = [triples(dealer, n) for n in (5, 7)]
    with TupleCache(tmp_path / "c.db") as cache:
        for batch_id, tuples in stored:
            cache.store(batch_id, tuples, transcript_hash=b"\x01" * 32)
        assert cache.available(TRIPLE) == 12 and cache.stock() == {"triple": 12}
        first, second = cache.take(TRIPLE, 3), cache.take(TRIPLE, 6)
        whole = TupleSet.concat([stored[0][1], stored[1][1]])
        assert first.columns == whole[:3].columns and second.columns == whole[3:9].columns
        assert cache.available(TRIPLE) == 3 and len(cache.take(TRIPLE, 0)) == 0
        info = cache.batches()
        assert [(b.count, b.used) for b in info] == [(5, 5), (7, 4)]
        assert info[0].transcript_hash == b"\x01" * 32
        mode = cache._db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = cache._db.execute("PRAGMA synchronous").fetchone()[0]
        assert (mode, sync) == ("wal", 2)  # 2 = FULL


def test_tuples_are_stored_as_packed_chunks_and_read_across_them(tmp_path: Path,
                                                                 dealer: Dealer) -> None:
    n = 2 * CHUNK_TUPLES + 100
    batch_id, tuples = triples(dealer, n)
    with TupleCache(tmp_path / "c.db") as cache:
        cache.store(batch_id, tuples)
        db = cache._db
        sizes = [len(d) for (d,) in db.execute("SELECT data FROM chunks ORDER BY no")]
        assert sizes == [CHUNK_TUPLES * 6 * 32] * 2 + [100 * 6 * 32]
        (last,) = db.execute("SELECT data FROM chunks WHERE no = 2").fetchone()
        assert last[:32 * 100] == tuples.columns[0].share[2 * CHUNK_TUPLES:].packed()
        middle = cache.take_range(batch_id, CHUNK_TUPLES - 3, CHUNK_TUPLES + 10)
        assert middle.columns == tuples[CHUNK_TUPLES - 3:2 * CHUNK_TUPLES + 7].columns
        rest = cache.take(TRIPLE, n - CHUNK_TUPLES - 10)
        assert ids(rest) == ids(tuples[:CHUNK_TUPLES - 3]) + ids(tuples[2 * CHUNK_TUPLES + 7:])
        assert cache.purge() == 1
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 0


def test_input_masks_keep_the_owners_clear_values(tmp_path: Path, dealer: Dealer) -> None:
    owner, other = dealer.input_masks(0, 6)[:2]
    with TupleCache(tmp_path / "o.db") as mine, TupleCache(tmp_path / "x.db") as theirs:
        mine.store(owner.batch_id, unchecked(owner))
        theirs.store(other.batch_id, unchecked(other))
        got = mine.take(MASK0, 4)
        assert got.clear == owner.clear[:4] and theirs.take(MASK0, 4).clear is None
        assert mine.take(MASK0, 0).clear == FieldVec.zeros(0)


def test_take_range_hands_out_exactly_the_range_and_never_twice(tmp_path: Path,
                                                               dealer: Dealer) -> None:
    batch_id, tuples = triples(dealer, 20)
    with TupleCache(tmp_path / "c.db") as cache:
        cache.store(batch_id, tuples)
        got = cache.take_range(batch_id, 5, 4)
        assert got.columns == tuples[5:9].columns
        with pytest.raises(TupleReused, match=f"tuple 7 of batch {batch_id.hex()}") as info:
            cache.take_range(batch_id, 7, 5)
        assert info.value.batch_id == batch_id and info.value.index == 7
        with pytest.raises(TupleReused) as info:
            cache.take_range(batch_id, 0, 6)
        assert info.value.index == 5
        # take() uses the gaps around the range, in index order.
        rest = cache.take(TRIPLE, 16)
        assert ids(rest) == ids(tuples[:5]) + ids(tuples[9:])
        with pytest.raises(ConfigError, match="not within batch"):
            cache.take_range(batch_id, 18, 3)
        with pytest.raises(ConfigError, match="not in"):
            cache.take_range(b"\x07" * 32, 0, 1)


def test_nothing_is_handed_out_twice_after_reopening(tmp_path: Path, dealer: Dealer) -> None:
    stored = [triples(dealer, 8) for _ in range(3)]
    seen: list[int] = []
    with TupleCache(tmp_path / "c.db") as cache:
        for batch_id, tuples in stored:
            cache.store(batch_id, tuples)
        seen += ids(cache.take(TRIPLE, 10))
        seen += ids(cache.take_range(stored[2][0], 0, 2))
    with TupleCache(tmp_path / "c.db") as cache:
        assert cache.available(TRIPLE) == 12
        with pytest.raises(TupleReused):
            cache.take_range(stored[0][0], 3, 1)
        with pytest.raises(ConfigError, match="stored already"):
            cache.store(*stored[1])
        seen += ids(cache.take(TRIPLE, 12))
        assert cache.purge() == 3 and cache.available(TRIPLE) == 0
    everything = [v for _, t in stored for v in ids(t)]
    assert sorted(seen) == sorted(everything) and len(set(seen)) == 24


def test_exhaustion_names_kind_and_missing_and_takes_nothing(tmp_path: Path,
                                                            dealer: Dealer) -> None:
    with TupleCache(tmp_path / "c.db") as cache:
        cache.store(*triples(dealer, 10))
        with pytest.raises(TuplesExhausted, match="'triple'.*3 missing") as info:
            cache.take(TRIPLE, 13)
        assert (info.value.kind, info.value.missing) == ("triple", 3)
        assert cache.available(TRIPLE) == 10
        with pytest.raises(TuplesExhausted) as info:
            cache.take(MASK0, 2)
        assert (info.value.kind, info.value.missing) == ("input_mask[owner=0]", 2)


def test_unattested_batches_wait_for_their_attestation(tmp_path: Path, dealer: Dealer) -> None:
    batch_id, tuples = triples(dealer, 4)
    with TupleCache(tmp_path / "c.db") as cache:
        cache.store(batch_id, tuples, attested=False)
        assert cache.available(TRIPLE) == 0 and cache.stock() == {}
        with pytest.raises(TuplesExhausted):
            cache.take(TRIPLE, 1)
        cache.mark_attested(batch_id)
        assert len(cache.take(TRIPLE, 4)) == 4


def test_job_reservations_are_consumed_in_order_and_survive_restarts(tmp_path: Path,
                                                                    dealer: Dealer) -> None:
    (b1, t1), (b2, t2) = triples(dealer, 10), triples(dealer, 10)
    plan = [(b2, 0, 4), (b1, 2, 5)]
    with TupleCache(tmp_path / "c.db") as cache:
        cache.store(b1, t1)
        cache.store(b2, t2)
        cache.reserve_for_job(7, plan)
        cache.reserve_for_job(7, plan)  # A replay of the chain's events changes nothing.
        with pytest.raises(TupleReused, match="job 8"):
            cache.reserve_for_job(8, [(b1, 0, 3)])
        assert cache.available(TRIPLE) == 11  # Reserved tuples are not free.
        job = cache.job_source(7)
        assert job.available(TRIPLE) == 9
        assert ids(job.take(TRIPLE, 6)) == ids(t2[:4]) + ids(t1[2:4])
    with TupleCache(tmp_path / "c.db") as cache:
        assert [(r.start, r.count, r.taken) for r in cache.job_ranges("7")] == [(0, 4, 4),
                                                                             (2, 5, 2)]
        job = cache.job_source(7)
        with pytest.raises(TuplesExhausted, match="4 missing"):
            job.take(TRIPLE, 7)
        assert ids(job.take(TRIPLE, 3)) == ids(t1[4:7])
        with pytest.raises(TupleReused):
            cache.take_range(b1, 6, 1)
        free = ids(cache.take(TRIPLE, 11))
        assert free == ids(t1[:2]) + ids(t1[7:]) + ids(t2[4:])


def test_a_killed_peer_never_gets_a_tuple_twice(tmp_path: Path, dealer: Dealer) -> None:
    """SIGKILL a process taking tuples at random moments; reopen; check every count."""
    db = tmp_path / "peer.db"
    stored = [triples(dealer, 600) for _ in range(3)]
    with TupleCache(db) as cache:
        for batch_id, tuples in stored:
            cache.store(batch_id, tuples)
    rng = random.Random(2024)
    printed: list[int] = []
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for round_ in range(5):
        child = subprocess.Popen([sys.executable, str(CHILD), str(db), str(round_)],
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        for _ in range(rng.randint(5, 40)):
            line = child.stdout.readline()
            printed += [int(v, 16) for v in line.split()[1].split(",")]
        time.sleep(rng.random() * 0.005)
        child.send_signal(signal.SIGKILL)
        for line in child.stdout:  # Lines the child flushed before it died.
            if line.startswith("take ") and line.endswith("\n"):
                printed += [int(v, 16) for v in line.split()[1].split(",")]
        assert child.wait() == -signal.SIGKILL
    stored_ids = {v for _, t in stored for v in ids(t)}
    assert len(printed) == len(set(printed)) and set(printed) <= stored_ids
    with TupleCache(db) as cache:
        assert cache._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        used = sum(b.used for b in cache.batches())
        left = cache.available(TRIPLE)
        assert used + left == 1800 and used >= len(printed)
        rest = ids(cache.take(TRIPLE, left))
    assert not set(rest) & set(printed) and len(set(rest)) == left
