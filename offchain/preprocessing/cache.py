"""A peer's tuple cache: checked tuples in SQLite (WAL), each handed out at most once.

Invariant: a tuple index of a batch belongs to at most one allocated range, and
its bytes leave the cache only in the transaction that allocates it (``take``,
``take_range``) or advances a job's cursor over it (``job_source(...).take``).
That transaction (``BEGIN IMMEDIATE``) commits before the tuples are
returned, with ``synchronous=FULL``: in WAL mode NORMAL would survive a
process crash but could roll the last commits back on power loss, making
tuples that were already handed out usable again. So whenever a crash
happens, a returned tuple is recorded as used.

Storage format, schema version 1 (``PRAGMA user_version``)::

    batches(id INTEGER PRIMARY KEY    storage order; take() consumes the oldest first
            batch_id BLOB UNIQUE      32 bytes, as committed on chain
            key TEXT                  str(TupleKey): "triple", "input_mask[owner=1]", ...
            kind INTEGER, owner, f, bits     the TupleKey (kind in TupleKind order)
            count INTEGER, has_clear INTEGER
            used INTEGER              tuples allocated (handed out or reserved for a job)
            attested INTEGER          1 once the sacrifice is attested; take() needs it
            transcript_hash BLOB      the sacrifice transcript hash (audit), or NULL
            stored_at REAL, chunk INTEGER)   tuples per chunk (CHUNK_TUPLES when stored)
    chunks(id INTEGER PRIMARY KEY, batch INTEGER, no INTEGER, data BLOB)
                                      tuples [no * chunk, (no + 1) * chunk) of a batch
    ranges(id INTEGER PRIMARY KEY     allocation order (a job's tuples follow it)
           batch INTEGER, start INTEGER, stop INTEGER    tuples [start, stop) of a batch
           job_id TEXT                NULL: handed out at once; else reserved for the job
           taken INTEGER)             job ranges: [start, start + taken) handed out

A chunk's ``data`` holds its m tuples' components column-major, 32 bytes
big-endian per element: column 0 shares | column 0 MACs | column 1 shares |
... | clear values (owner of input masks only); element i of component j
starts at byte (j * m + i) * 32, and a range of tuples is read with one
incremental blob read per component and chunk. Tuples live apart from the
counters (updating a row rewrites all of it) and in chunks of about 200 kB
(SQLite walks a blob's overflow pages from its start on every read).
``purge()`` deletes the chunks of fully handed out batches; their rows in
``batches`` stay, so a batch id can never be stored (and handed out) again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offchain.errors import ConfigError, TupleReused, TuplesExhausted
from offchain.field import ELEMENT_BYTES, FieldVec
from offchain.preprocessing.source import MemoryTupleSource, TupleSource
from offchain.preprocessing.tuples import BATCH_ID_BYTES, TupleKey, TupleKind, TupleSet
from offchain.shares import SharedVec

SCHEMA_VERSION = 1
CHUNK_TUPLES = 1024
_KINDS = list(TupleKind)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, batch_id BLOB NOT NULL UNIQUE, key TEXT NOT NULL,
    kind INTEGER NOT NULL, owner INTEGER, f INTEGER, bits INTEGER,
    count INTEGER NOT NULL CHECK (count > 0), has_clear INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0 CHECK (used BETWEEN 0 AND count),
    attested INTEGER NOT NULL, transcript_hash BLOB, stored_at REAL NOT NULL,
    chunk INTEGER NOT NULL CHECK (chunk > 0));
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, batch INTEGER NOT NULL REFERENCES batches (id),
    no INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE (batch, no));
CREATE INDEX IF NOT EXISTS batches_by_key ON batches (key, attested, id);
CREATE TABLE IF NOT EXISTS ranges (
    id INTEGER PRIMARY KEY, batch INTEGER NOT NULL REFERENCES batches (id),
    start INTEGER NOT NULL, stop INTEGER NOT NULL CHECK (stop > start), job_id TEXT,
    taken INTEGER NOT NULL DEFAULT 0, UNIQUE (batch, start));
CREATE INDEX IF NOT EXISTS ranges_by_job ON ranges (job_id, id);
"""
Range = tuple[bytes, int, int]


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A stored batch as ``mpcc peer status`` and audits see it."""

    batch_id: bytes
    key: str
    count: int
    used: int
    attested: bool
    transcript_hash: bytes | None


@dataclass(frozen=True, slots=True)
class JobRange:
    """Tuples [start, start + count) of a batch reserved for a job; ``taken`` handed out."""

    batch_id: bytes
    key: str
    start: int
    count: int
    taken: int


@dataclass(frozen=True, slots=True)
class _Batch:
    rowid: int
    batch_id: bytes
    key: TupleKey
    count: int
    has_clear: bool
    chunk: int


class TupleCache(TupleSource):
    """The SQLite tuple cache of one peer (see the module docstring).

    Any thread may use it, one at a time: a peer's event loop runs every cache
    call on one worker thread, so that no disk access stalls the loop.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.exists():
            path.touch(mode=0o600)  # Shares and MAC shares are secrets of this organisation.
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
        try:
            self._open()
        except sqlite3.OperationalError as err:  # Locked, unreadable: the file may well be sound.
            self._db.close()
            raise ConfigError(f"cannot open the tuple cache {path}: {err}") from err
        except sqlite3.DatabaseError as err:  # SQLITE_NOTADB, SQLITE_CORRUPT: the file itself is bad.
            self._db.close()
            raise ConfigError(
                f"the tuple cache {path} is damaged or is not an mpcc tuple cache (SQLite: {err}); stop the peer, "
                "move the file aside (with its -wal and -shm files, if any) and start the peer again: it starts an "
                "empty cache and takes new batches (the tuples of the damaged file are lost)") from err

    def _open(self) -> None:
        """WAL mode, durable commits, and the schema (made or checked)."""
        path = self.path
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise ConfigError(f"{path}: SQLite refused WAL mode ({mode}); use a local disk")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._write():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise ConfigError(f"{path} has cache schema {version}, this mpcc reads "
                                  f"{SCHEMA_VERSION}")
            for statement in _SCHEMA.split(";"):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TupleCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Storing ----------------------------------------------------------------------------
    def store(self, batch_id: bytes, tuples: TupleSet, *, transcript_hash: bytes | None = None,
              attested: bool = True) -> None:
        """Stores a batch that passed the joint sacrifice; a batch id is stored once only.

        Store with ``attested=False`` before sending the attestation and call
        :meth:`mark_attested` once it is on chain, so that a crash in between loses nothing.
        """
        if len(batch_id) != BATCH_ID_BYTES or not len(tuples):
            raise ConfigError("a batch has a 32-byte id and at least one tuple")
        comps = [p for c in tuples.columns for p in (c.share.packed(), c.mac.packed())]
        comps += [tuples.clear.packed()] if tuples.clear is not None else []
        k, size = tuples.key, CHUNK_TUPLES * ELEMENT_BYTES
        with self._write():
            if self._find(batch_id) is not None:
                raise ConfigError(f"batch {batch_id.hex()} is stored already; storing it again "
                                  "would hand its tuples out twice")
            cur = self._db.execute(
                "INSERT INTO batches (batch_id, key, kind, owner, f, bits, count, has_clear,"
                " attested, transcript_hash, stored_at, chunk) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (batch_id, str(k), _KINDS.index(k.kind), k.owner, k.f, k.bits, len(tuples),
                 tuples.clear is not None, attested, transcript_hash, time.time(), CHUNK_TUPLES))
            self._db.executemany(
                "INSERT INTO chunks (batch, no, data) VALUES (?, ?, ?)",
                ((cur.lastrowid, no, b"".join(c[pos:pos + size] for c in comps))
                 for no, pos in enumerate(range(0, len(comps[0]), size))))

    def mark_attested(self, batch_id: bytes) -> None:
        """Lets :meth:`take` hand out the batch (its attestation is on chain)."""
        with self._write():
            self._get(batch_id)
            self._db.execute("UPDATE batches SET attested = 1 WHERE batch_id = ?", (batch_id,))

    # Handing out ------------------------------------------------------------------------
    def take(self, key: TupleKey, count: int) -> TupleSet:
        """``count`` tuples of ``key`` from the oldest attested batches, marked used first."""
        if count < 0:
            raise ConfigError(f"cannot take {count} tuples")
        with self._write():
            rows = self._db.execute(
                "SELECT id, batch_id, count, has_clear, chunk, count - used FROM batches"
                " WHERE key = ? AND attested = 1 AND used < count ORDER BY id",
                (str(key),)).fetchall()
            missing = count - sum(r[5] for r in rows)
            if missing > 0:
                raise TuplesExhausted(str(key), missing, f"{count} requested from {self.path}")
            parts: list[TupleSet] = []
            left = count
            for rowid, batch_id, total, has_clear, chunk, _ in rows:
                if not left:
                    break
                batch = _Batch(rowid, batch_id, key, total, bool(has_clear), chunk)
                for start, stop in self._gaps(rowid, total):
                    if not left:
                        break
                    n = min(stop - start, left)
                    self._allocate(batch, start, n)
                    parts.append(self._read(batch, start, n))
                    left -= n
            return _joined(key, parts)

    def take_range(self, batch_id: bytes, start: int, count: int) -> TupleSet:
        """Exactly tuples [start, start + count) of a batch; TupleReused if any was allocated.

        The local ``attested`` flag is not required: the chain reserves a range for a
        job only once every participant attested the batch.
        """
        with self._write():
            batch = self._get(batch_id)
            self._check_free(batch, start, count)
            self._allocate(batch, start, count)
            return self._read(batch, start, count)

    def available(self, key: TupleKey) -> int:
        """Tuples of ``key`` that :meth:`take` can still hand out (attested, unallocated)."""
        row = self._db.execute("SELECT SUM(count - used) FROM batches WHERE key = ? AND"
                               " attested = 1", (str(key),)).fetchone()
        return int(row[0] or 0)

    def stock(self) -> dict[str, int]:
        """Tuples left per key, e.g. {"triple": 9000, "input_mask[owner=0]": 120}."""
        rows = self._db.execute("SELECT key, SUM(count - used) FROM batches WHERE attested = 1"
                                " GROUP BY key ORDER BY key").fetchall()
        return {key: int(n) for key, n in rows}

    def unallocated(self) -> list[tuple[bytes, str, int]]:
        """(batch id, key, tuples neither handed out nor reserved) of each attested batch with some left.

        What a job can still reserve of them depends on the chain as well (every
        participant attested; reservations this cache has not recorded yet), so
        ``mpcc peer status`` counts a batch's tuples up to what the ledger says is available.
        """
        rows = self._db.execute("SELECT batch_id, key, count - used FROM batches WHERE attested = 1"
                                " AND used < count ORDER BY id").fetchall()
        return [(bytes(r[0]), r[1], int(r[2])) for r in rows]

    def batches(self) -> list[BatchInfo]:
        rows = self._db.execute("SELECT batch_id, key, count, used, attested, transcript_hash"
                                " FROM batches ORDER BY id").fetchall()
        return [BatchInfo(r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows]

    # Jobs -------------------------------------------------------------------------------
    def reserve_for_job(self, job_id: int | str, ranges: Sequence[Range]) -> None:
        """Records the ranges (batch_id, start, count) the chain reserved for a job, in order.

        All or nothing; replaying ranges already reserved for this job is a no-op
        (a restarted peer re-reads the chain's events), any other overlap raises TupleReused.
        """
        job = str(job_id)
        with self._write():
            for batch_id, start, count in ranges:
                batch = self._get(batch_id)
                same = self._db.execute(
                    "SELECT 1 FROM ranges WHERE batch = ? AND start = ? AND stop = ? AND"
                    " job_id = ?", (batch.rowid, start, start + count, job)).fetchone()
                if same is None:
                    self._check_free(batch, start, count, f"while reserving for job {job}")
                    self._allocate(batch, start, count, job)

    def release_for_job(self, job_id: int | str, batch_id: bytes, start: int, count: int) -> None:
        """Frees the job's untouched ranges within [start, start + count) of a batch, which the chain
        released (the job was declined before it ran); a range already taken from stays."""
        with self._write():
            batch = self._find(batch_id)
            if batch is None:
                return
            where = ("FROM ranges WHERE batch = ? AND job_id = ? AND start >= ? AND stop <= ? AND taken = 0",
                     (batch.rowid, str(job_id), start, start + count))
            freed = self._db.execute("SELECT COALESCE(SUM(stop - start), 0) " + where[0], where[1]).fetchone()[0]
            self._db.execute("DELETE " + where[0], where[1])
            self._db.execute("UPDATE batches SET used = used - ? WHERE id = ?", (freed, batch.rowid))

    def job_source(self, job_id: int | str) -> JobTupleSource:
        """A TupleSource handing out the job's reserved tuples in reservation order."""
        return JobTupleSource(self, str(job_id))

    def job_ranges(self, job_id: int | str) -> list[JobRange]:
        """What is reserved for a job and how much of it was handed out (for a restarted peer)."""
        rows = self._db.execute(
            "SELECT b.batch_id, b.key, r.start, r.stop - r.start, r.taken FROM ranges r"
            " JOIN batches b ON b.id = r.batch WHERE r.job_id = ? ORDER BY r.id",
            (str(job_id),)).fetchall()
        return [JobRange(*r) for r in rows]

    def purge(self) -> int:
        """Deletes the tuples of batches handed out entirely; returns how many batches."""
        with self._write():
            done = self._db.execute(
                "SELECT b.id FROM batches b WHERE b.used = b.count AND EXISTS (SELECT 1 FROM"
                " chunks c WHERE c.batch = b.id) AND NOT EXISTS (SELECT 1 FROM ranges r"
                " WHERE r.batch = b.id AND r.job_id IS NOT NULL AND r.taken < r.stop - r.start)"
                ).fetchall()
            self._db.executemany("DELETE FROM chunks WHERE batch = ?", done)
            return len(done)

    # Internals --------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction, taken before anything is read (BEGIN IMMEDIATE)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            # Nothing read in the transaction has been returned yet, so undoing it is safe.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _find(self, batch_id: bytes) -> _Batch | None:
        row = self._db.execute("SELECT id, kind, owner, f, bits, count, has_clear, chunk"
                               " FROM batches WHERE batch_id = ?", (bytes(batch_id),)).fetchone()
        if row is None:
            return None
        key = TupleKey(_KINDS[row[1]], row[2], row[3], row[4])
        return _Batch(row[0], bytes(batch_id), key, row[5], bool(row[6]), row[7])

    def _get(self, batch_id: bytes) -> _Batch:
        batch = self._find(batch_id)
        if batch is None:
            raise ConfigError(f"batch {bytes(batch_id).hex()} is not in {self.path}: fetch, "
                              "check and store it before a job uses it")
        return batch

    def _check_free(self, batch: _Batch, start: int, count: int, detail: str = "") -> None:
        if start < 0 or count < 1 or start + count > batch.count:
            raise ConfigError(f"range [{start}, {start + count}) is not within batch "
                              f"{batch.batch_id.hex()} of {batch.count} tuples")
        hit = self._db.execute("SELECT start FROM ranges WHERE batch = ? AND start < ? AND"
                               " stop > ? ORDER BY start LIMIT 1",
                               (batch.rowid, start + count, start)).fetchone()
        if hit is not None:
            raise TupleReused(batch.batch_id, max(start, hit[0]), detail)

    def _gaps(self, rowid: int, total: int) -> Iterator[tuple[int, int]]:
        """The unallocated intervals of a batch, in index order."""
        cursor = 0
        ranges = self._db.execute("SELECT start, stop FROM ranges WHERE batch = ? ORDER BY"
                                  " start", (rowid,)).fetchall()
        for start, stop in [*ranges, (total, total)]:
            if start > cursor:
                yield cursor, start
            cursor = max(cursor, stop)

    def _allocate(self, batch: _Batch, start: int, count: int, job: str | None = None) -> None:
        # Ranges handed out at once are merged with the one they extend, so that a
        # batch consumed in many small takes keeps one row.
        merged = job is None and self._db.execute(
            "UPDATE ranges SET stop = stop + ? WHERE batch = ? AND stop = ? AND job_id IS NULL",
            (count, batch.rowid, start)).rowcount
        if not merged:
            self._db.execute("INSERT INTO ranges (batch, start, stop, job_id) VALUES (?,?,?,?)",
                             (batch.rowid, start, start + count, job))
        self._db.execute("UPDATE batches SET used = used + ? WHERE id = ?", (count, batch.rowid))

    def _read(self, batch: _Batch, start: int, count: int) -> TupleSet:
        """Tuples [start, start + count) of a batch, read from its chunks."""
        width, size = batch.key.kind.width, batch.chunk
        n_comps = 2 * width + batch.has_clear
        pieces: list[list[bytes]] = [[] for _ in range(n_comps)]
        for no in range(start // size, (start + count - 1) // size + 1):
            first, m = no * size, min(size, batch.count - no * size)
            lo, hi = max(start, first) - first, min(start + count, first + m) - first
            (rowid,) = self._db.execute("SELECT id FROM chunks WHERE batch = ? AND no = ?",
                                        (batch.rowid, no)).fetchone()
            with self._db.blobopen("chunks", "data", rowid, readonly=True) as blob:
                for j in range(n_comps):
                    blob.seek((j * m + lo) * ELEMENT_BYTES)
                    pieces[j].append(blob.read((hi - lo) * ELEMENT_BYTES))
        comps = [FieldVec.from_packed(b"".join(p), count) for p in pieces]
        columns = tuple(SharedVec(comps[2 * i], comps[2 * i + 1]) for i in range(width))
        return TupleSet(batch.key, columns, comps[-1] if batch.has_clear else None)


class JobTupleSource(TupleSource):
    """The tuples a job reserved in a :class:`TupleCache`, handed out in reservation order.

    Every peer of the job reserved the same ranges in the same order, so every
    peer gets the same tuples for each ``take``: their shares match.
    """

    def __init__(self, cache: TupleCache, job_id: str) -> None:
        self._cache = cache
        self.job_id = job_id

    def _open_ranges(self, key: TupleKey) -> list[Any]:
        return self._cache._db.execute(
            "SELECT r.id, r.start + r.taken, r.stop - r.start - r.taken, b.id, b.batch_id,"
            " b.count, b.has_clear, b.chunk FROM ranges r JOIN batches b ON b.id = r.batch"
            " WHERE r.job_id = ? AND b.key = ? AND r.taken < r.stop - r.start ORDER BY r.id",
            (self.job_id, str(key))).fetchall()

    def available(self, key: TupleKey) -> int:
        return sum(r[2] for r in self._open_ranges(key))

    def take(self, key: TupleKey, count: int) -> TupleSet:
        if count < 0:
            raise ConfigError(f"cannot take {count} tuples")
        cache = self._cache
        with cache._write():
            rows = self._open_ranges(key)
            missing = count - sum(r[2] for r in rows)
            if missing > 0:
                raise TuplesExhausted(str(key), missing,
                                      f"{count} requested, job {self.job_id} reserved fewer")
            parts: list[TupleSet] = []
            left = count
            for range_id, first, n_left, rowid, batch_id, total, has_clear, chunk in rows:
                if not left:
                    break
                n = min(n_left, left)
                batch = _Batch(rowid, batch_id, key, total, bool(has_clear), chunk)
                cache._db.execute("UPDATE ranges SET taken = taken + ? WHERE id = ?",
                                  (n, range_id))
                parts.append(cache._read(batch, first, n))
                left -= n
            return _joined(key, parts)

    def take_all(self) -> MemoryTupleSource:
        """Every tuple still reserved for the job, handed out in one transaction, in memory.

        A job's tuples are known before it starts; taking them at once keeps
        the disk out of the protocol's rounds. Each key's tuples keep their
        reservation order, so every peer's ``take`` still gets the same tuples.
        """
        cache, out = self._cache, MemoryTupleSource()
        keys = [row[0] for row in cache._db.execute(
            "SELECT DISTINCT b.key, MIN(r.id) FROM ranges r JOIN batches b ON b.id = r.batch"
            " WHERE r.job_id = ? AND r.taken < r.stop - r.start GROUP BY b.key ORDER BY 2",
            (self.job_id,)).fetchall()]
        for key in keys:
            parsed = next(k for k in self._keys() if str(k) == key)
            out.add(self.take(parsed, self.available(parsed)))
        return out

    def _keys(self) -> list[TupleKey]:
        rows = self._cache._db.execute(
            "SELECT DISTINCT b.kind, b.owner, b.f, b.bits FROM ranges r JOIN batches b ON b.id = r.batch"
            " WHERE r.job_id = ?", (self.job_id,)).fetchall()
        return [TupleKey(_KINDS[r[0]], r[1], r[2], r[3]) for r in rows]


def _joined(key: TupleKey, parts: list[TupleSet]) -> TupleSet:
    if len(parts) == 1:
        return parts[0]
    if parts:
        return TupleSet.concat(parts)
    columns = tuple(SharedVec.zeros(0) for _ in range(key.kind.width))
    return TupleSet(key, columns, FieldVec.zeros(0) if key.owner is not None else None)
