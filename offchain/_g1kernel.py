"""ctypes binding of the C G1 kernel, with the interface of :class:`offchain._g1ref.ReferenceOps`.

:func:`load` returns None when ``libmpccg1.so`` is absent or does not load;
:mod:`offchain.curve` then stays on the reference. Byte strings are passed
to C without copying; each result is written into a fresh ctypes buffer.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

LIBRARY = Path(__file__).resolve().parent / "libmpccg1.so"
NAME = "kernel"
_SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "g1_validate": ([ctypes.c_char_p, ctypes.c_int64], ctypes.c_int64),
    "g1_add": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64], None),
    "g1_sub": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64], None),
    "g1_neg": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64], None),
    "g1_scale": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64,
                  ctypes.c_int64], None),
    "g1_sum": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64], None),
    "g1_msm": ([ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int64],
               ctypes.c_int64),
    "g1_table_bytes": ([], ctypes.c_int64),
    "g1_table_build": ([ctypes.c_void_p, ctypes.c_char_p], ctypes.c_int64),
    "g1_commit": ([ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                   ctypes.c_char_p, ctypes.c_int64], None),
}


class KernelOps:
    """Batched G1 operations on EVM-encoded bytes, computed in C (see _g1kernel.c)."""

    name = NAME

    def __init__(self, lib: ctypes.CDLL) -> None:
        for fname, (argtypes, restype) in _SIGNATURES.items():
            fn = getattr(lib, fname)
            fn.argtypes = argtypes
            fn.restype = restype
        self._lib = lib

    def validate(self, data: bytes) -> int | None:
        """None if every point is valid, else the index of the first invalid one."""
        bad = self._lib.g1_validate(data, len(data) // 64)
        return bad - 1 if bad else None

    @staticmethod
    def _out(n: int) -> ctypes.Array[ctypes.c_char]:
        return ctypes.create_string_buffer(64 * n)

    def add(self, a: bytes, b: bytes) -> bytes:
        out = self._out(len(a) // 64)
        self._lib.g1_add(out, a, b, len(a) // 64)
        return out.raw

    def sub(self, a: bytes, b: bytes) -> bytes:
        out = self._out(len(a) // 64)
        self._lib.g1_sub(out, a, b, len(a) // 64)
        return out.raw

    def neg(self, a: bytes) -> bytes:
        out = self._out(len(a) // 64)
        self._lib.g1_neg(out, a, len(a) // 64)
        return out.raw

    def scale(self, points: bytes, scalars: bytes) -> bytes:
        """k_i * p_i elementwise."""
        out = self._out(len(points) // 64)
        self._lib.g1_scale(out, points, scalars, 32, len(points) // 64)
        return out.raw

    def scale1(self, points: bytes, scalar: bytes) -> bytes:
        """k * p_i for one scalar k."""
        out = self._out(len(points) // 64)
        self._lib.g1_scale(out, points, scalar, 0, len(points) // 64)
        return out.raw

    def total(self, points: bytes) -> bytes:
        out = self._out(1)
        self._lib.g1_sum(out, points, len(points) // 64)
        return out.raw

    def msm(self, points: bytes, scalars: bytes) -> bytes:
        """sum_i k_i p_i as one point."""
        out = self._out(1)
        if self._lib.g1_msm(out, points, scalars, len(points) // 64):
            raise MemoryError("g1_msm: out of memory")
        return out.raw

    def table(self, base: bytes) -> ctypes.Array[ctypes.c_char]:
        """The fixed-base table of ``base`` (148 KiB; base not infinity)."""
        table = ctypes.create_string_buffer(self._lib.g1_table_bytes())
        if self._lib.g1_table_build(table, base):
            raise ValueError("a fixed base cannot be the point at infinity")
        return table

    def commit(self, tables: tuple[Any, Any], values: bytes, rands: bytes) -> bytes:
        """v_i * G + r_i * H elementwise, from the tables of G and H."""
        out = self._out(len(values) // 32)
        self._lib.g1_commit(out, tables[0], tables[1], values, rands, len(values) // 32)
        return out.raw


def load(path: Path = LIBRARY) -> KernelOps | None:
    """The kernel if its library exists and loads, else None."""
    if not path.exists():
        return None
    try:
        return KernelOps(ctypes.CDLL(str(path)))
    except (OSError, AttributeError):
        return None
