"""Helpers for the off-chain protocol tests (n parties in one process)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from offchain.engine.context import Context
from harness.local import run_local
from offchain.field import P, FieldVec
from harness.faults import Tamper
from offchain.preprocessing.tuples import Needs
from offchain.shares import MacKeyShare


def run(n: int, program: Callable[[Context], Awaitable[Any]], needs: Needs, *,
        sacrifice: bool = False, tamper: Tamper | None = None, timeout: float = 10.0
        ) -> list[Any]:
    """Runs the program as n parties; returns results or exceptions in party order."""
    return asyncio.run(run_local(n, program, needs=needs, sacrifice=sacrifice,
                                 tamper=tamper, timeout=timeout))


def values_of(results: list[Any]) -> FieldVec:
    """The common output of all parties; fails the test if a party raised or they differ."""
    for r in results:
        if isinstance(r, BaseException):
            raise r
    assert all(r == results[0] for r in results)
    return results[0]


def alpha_of(keys: list[MacKeyShare]) -> int:
    return sum(k.alpha for k in keys) % P


def add_to_vector_message(payload: bytes, delta: int = 1) -> bytes:
    """If payload is a FieldVec message, add delta to its last element; else flip its last bit."""
    if len(payload) > 1 and payload[0] == 1 and len(payload) % 32 == 1:
        vec = FieldVec.from_bytes(payload)
        return (FieldVec.concat([vec[:-1], vec[-1:] + delta])).to_bytes()
    return payload[:-1] + bytes((payload[-1] ^ 1,))


def is_vector_message(payload: bytes) -> bool:
    return len(payload) > 1 and payload[0] == 1 and len(payload) % 32 == 1


class Scribbler:
    """A C kernel's library, but each C call is preceded by allocations of small arrays full of ones.

    ctypes releases the GIL for a C call and Python may switch threads just
    before it, so another thread of a peer (its disk thread, a batch being
    decrypted) may take a buffer freed before the call and write into it.
    These allocations (of each of ``shapes``, four times) do deterministically
    what such a thread does now and then: a kernel binding that lets an
    argument's array go before its call returns reads ones.
    """

    def __init__(self, lib: object, shapes: Sequence[int | tuple[int, ...]] = ((1, 4),)) -> None:
        self._lib = lib
        self._shapes = shapes

    def __getattr__(self, name: str) -> object:
        real = getattr(self._lib, name)

        def call(*args: object) -> object:
            taken = [np.full(shape, 2**64 - 1, dtype=np.uint64) for shape in self._shapes for _ in range(4)]
            result = real(*args)
            del taken
            return result
        return call
