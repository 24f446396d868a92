"""Contract logs asked of the node once per block range: a per-process cache by filter and range.

A log query names a filter (an emitter address and topics: topic0 and the
indexed arguments) and a block range. The cache remembers, per filter, which
ranges of *settled* blocks it has fetched and the logs found there, and asks
the node only for the rest. So a peer or an auditor that reads the same job
again, or reads on as the chain grows, costs one ``eth_getLogs`` for the new
blocks, not one over every block since deployment.

Settled: a block at or below ``tip - confirmations``. On the local chains
(hardhat's 31337 and the in-process chain) every mined block is settled; on
any other chain ``CONFIRMATIONS`` blocks below the tip are, and the younger
ones are fetched on every query and never kept.

Invalidation: the cache records the hash of the highest settled block it
covers (its head). Whenever the tip has changed since the last check, it
asks for the block at the head's height again; if its hash differs (a reorg,
a local chain reverted to a snapshot or restarted) or it is gone, every range
and log of that chain is dropped, and the query starts afresh. A block hash
commits to every block before it, so an unchanged head proves the cached
ranges unchanged.

One cache serves one chain connection (``cache_of(chain)``) for the life of
the process; a lock makes it safe to share between threads. Block timestamps
of settled blocks are kept the same way (``block_times``).
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3
from web3.exceptions import BlockNotFound
from web3.types import FilterParams, LogReceipt

from onchain.chain import LOCAL_CHAIN_IDS, Chain

CONFIRMATIONS = 12
"""Blocks below the tip of a public chain before its logs are cached (the local chains need none)."""
LOG_CHUNK = 5_000
"""Most blocks one ``eth_getLogs`` asks for (public nodes cap the range)."""

Topics = tuple[tuple[str, ...] | None, ...]
"""Filter topics by position: None matches anything, a tuple any of its 0x-hex values."""


@dataclass(frozen=True)
class LogFilter:
    """What the node matches: the emitter and the topics by position (trailing wildcards dropped)."""

    address: str
    topics: Topics = ()

    def params(self, start: int, stop: int) -> FilterParams:
        topics: list[Any] = [None if t is None else list(t) if len(t) > 1 else t[0] for t in self.topics]
        return {"address": Web3.to_checksum_address(self.address), "fromBlock": start, "toBlock": stop,
                "topics": topics}


@dataclass
class _Entry:
    """The settled block ranges fetched for one filter, and the logs found there in chain order."""

    ranges: list[tuple[int, int]] = field(default_factory=list)
    keys: list[tuple[int, int]] = field(default_factory=list)
    logs: list[LogReceipt] = field(default_factory=list)

    def missing(self, start: int, stop: int) -> list[tuple[int, int]]:
        """The parts of [start, stop] no fetched range covers."""
        gaps, at = [], start
        for low, high in self.ranges:
            if high < at:
                continue
            if low > stop:
                break
            if low > at:
                gaps.append((at, low - 1))
            at = max(at, high + 1)
        if at <= stop:
            gaps.append((at, stop))
        return gaps

    def add(self, start: int, stop: int, logs: Sequence[LogReceipt]) -> None:
        """Record [start, stop] as fetched, with the logs found in it."""
        for log in logs:
            key = _key(log)
            at = bisect_left(self.keys, key)
            if at == len(self.keys) or self.keys[at] != key:
                self.keys.insert(at, key)
                self.logs.insert(at, log)
        merged: list[tuple[int, int]] = []
        for low, high in sorted([*self.ranges, (start, stop)]):
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        self.ranges = merged

    def between(self, start: int, stop: int) -> list[LogReceipt]:
        return self.logs[bisect_left(self.keys, (start, -1)):bisect_right(self.keys, (stop, 2**63))]


class LogCache:
    """The logs of one chain by filter and settled block range (see the module's docstring)."""

    def __init__(self, w3: Web3, confirmations: int) -> None:
        self.w3 = w3
        self.confirmations = confirmations
        self._entries: dict[LogFilter, _Entry] = {}
        self._times: dict[int, int] = {}
        self._head: tuple[int, bytes] | None = None
        self._checked_tip: tuple[int, bytes] | None = None
        self._lock = threading.RLock()

    def logs(self, flt: LogFilter, start: int = 0, stop: int | None = None) -> list[LogReceipt]:
        """The logs matching ``flt`` in blocks [start, stop] (to the tip by default), in chain order."""
        with self._lock:
            tip, tip_hash = self._tip()
            self._check_head(tip, tip_hash)
            stop = tip if stop is None else min(stop, tip)
            if start > stop:
                return []
            settled = tip - self.confirmations
            entry = self._entries.setdefault(flt, _Entry())
            gaps = entry.missing(start, min(stop, settled))
            fresh = [(max(start, settled + 1), stop)] if stop > settled else []
            found: list[LogReceipt] = []
            for low, high in _coalesce(gaps + fresh):
                found += self._fetch(flt, low, high)
            for low, high in gaps:
                entry.add(low, high, [log for log in found if low <= int(log["blockNumber"]) <= high])
            self._advance_head(settled, tip, tip_hash)
            young = sorted((log for log in found if int(log["blockNumber"]) > settled), key=_key)
            return entry.between(start, min(stop, settled)) + young

    def block_times(self, blocks: Iterable[int]) -> dict[int, int]:
        """The timestamp of each of ``blocks``; those of settled blocks are asked for once."""
        with self._lock:
            tip, tip_hash = self._tip()
            self._check_head(tip, tip_hash)
            settled = tip - self.confirmations
            found: dict[int, int] = {}
            for block in sorted(set(blocks)):
                when = self._times.get(block)
                if when is None:
                    when = int(self.w3.eth.get_block(block)["timestamp"])
                    if block <= settled:
                        self._times[block] = when
                found[block] = when
            self._advance_head(settled, tip, tip_hash)
            return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._times.clear()
            self._head = None

    def _tip(self) -> tuple[int, bytes]:
        block = self.w3.eth.get_block("latest")
        return int(block["number"]), bytes(block["hash"])

    def _check_head(self, tip: int, tip_hash: bytes) -> None:
        """Drop everything if the block at the head's height is no longer the one cached."""
        if self._head is None or self._checked_tip == (tip, tip_hash):
            return
        height, expected = self._head
        if height == tip:
            found: bytes | None = tip_hash
        elif height > tip:
            found = None
        else:
            found = self._hash_at(height)
        if found != expected:
            self.clear()
        self._checked_tip = (tip, tip_hash)

    def _advance_head(self, settled: int, tip: int, tip_hash: bytes) -> None:
        if settled < 0 or (self._head is not None and self._head[0] >= settled):
            return
        found = tip_hash if settled == tip else self._hash_at(settled)
        if found is not None:
            self._head = (settled, found)
            self._checked_tip = (tip, tip_hash)

    def _hash_at(self, height: int) -> bytes | None:
        try:
            return bytes(self.w3.eth.get_block(height)["hash"])
        except BlockNotFound:
            return None

    def _fetch(self, flt: LogFilter, start: int, stop: int) -> list[LogReceipt]:
        found: list[LogReceipt] = []
        for low in range(start, stop + 1, LOG_CHUNK):
            found += self.w3.eth.get_logs(flt.params(low, min(low + LOG_CHUNK - 1, stop)))
        return found


def _key(log: LogReceipt) -> tuple[int, int]:
    return int(log["blockNumber"]), int(log["logIndex"])


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent ranges as one, so that new blocks after a cached gap cost one request."""
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


_CACHES: weakref.WeakKeyDictionary[Chain, LogCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(chain: Chain) -> LogCache:
    """The process's log cache of ``chain`` (one per connection, made on first use)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(chain)
        if cache is None:
            depth = 0 if chain.chain_id in LOCAL_CHAIN_IDS else CONFIRMATIONS
            cache = _CACHES[chain] = LogCache(chain.w3, depth)
        return cache
