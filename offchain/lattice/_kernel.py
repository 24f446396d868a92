"""ctypes binding of the C lattice kernel, with the interface of :mod:`offchain.lattice._reference`.

:func:`load` returns None when ``offchain/liblatkernel.so`` is absent or does
not load; :mod:`offchain.lattice.ring` then stays on the reference. Every
function checks shapes, dtypes and contiguity before calling C (C trusts them
for its memory accesses) and returns a fresh array.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from offchain.errors import ConfigError
from offchain.lattice.tables import CrtTables, NttTables, SlotTables, shoup

LIBRARY = Path(__file__).resolve().parents[1] / "liblatkernel.so"
NAME = "kernel"
_VP, _I64 = ctypes.c_void_p, ctypes.c_int64
_SIGNATURES: dict[str, int] = {
    # Number of pointer arguments; every function then takes (L, n) or n as int64.
    "lat_ntt": 4, "lat_intt": 4, "lat_add": 4, "lat_sub": 4, "lat_neg": 3, "lat_mul": 4,
    "lat_mul_const": 5, "lat_from_i64": 3, "lat_from_field": 4, "lat_mod_switch": 4, "lat_to_field": 8,
    "r_ntt": 2, "r_intt": 3,
}


def _ptr(a: np.ndarray, dtype: type[np.generic] = np.uint64) -> int:
    """The address of ``a``'s elements, which must be contiguous and of ``dtype``.

    The caller keeps ``a`` referenced until the C call returns: ctypes releases
    the GIL for the call and Python may switch threads before it, so a buffer
    freed before the call may be taken and written by another thread while C
    still reads it. Never pass the address of a temporary.
    """
    if not a.flags.c_contiguous:
        raise ConfigError("the lattice kernel takes contiguous arrays only")
    if a.dtype != dtype:
        raise ConfigError(f"the lattice kernel wants {np.dtype(dtype)}, not {a.dtype}")
    return int(a.ctypes.data)


def _rows(a: np.ndarray, t: NttTables) -> tuple[int, int]:
    if a.shape != t.fwd.shape:
        raise ConfigError(f"an RNS array of shape {t.fwd.shape} is needed, not {a.shape}")
    return t.fwd.shape


def _copy(a: np.ndarray) -> np.ndarray:
    """A fresh contiguous copy, which the in-place transforms then overwrite."""
    return np.array(a, dtype=np.uint64, order="C", copy=True)


class KernelOps:
    """The RNS and Z_r transforms computed in C (see _latkernel.c)."""

    name = NAME

    def __init__(self, lib: ctypes.CDLL) -> None:
        for fname, pointers in _SIGNATURES.items():
            fn = getattr(lib, fname)
            fn.argtypes = [_VP] * pointers + ([_I64] if fname.startswith("r_") else [_I64, _I64])
            fn.restype = None
        self._lib = lib

    def ntt(self, a: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = _rows(a, t)
        out = _copy(a)
        self._lib.lat_ntt(_ptr(out), _ptr(t.fwd), _ptr(t.fwd_s), _ptr(t.scalars), rows, n)
        return out

    def intt(self, a: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = _rows(a, t)
        out = _copy(a)
        self._lib.lat_intt(_ptr(out), _ptr(t.inv), _ptr(t.inv_s), _ptr(t.scalars), rows, n)
        return out

    def _binary(self, fname: str, a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = _rows(a, t)
        _rows(b, t)
        out = np.empty_like(t.fwd)
        getattr(self._lib, fname)(_ptr(out), _ptr(a), _ptr(b), _ptr(t.scalars), rows, n)
        return out

    def add(self, a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray:
        return self._binary("lat_add", a, b, t)

    def sub(self, a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray:
        return self._binary("lat_sub", a, b, t)

    def mul(self, a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray:
        return self._binary("lat_mul", a, b, t)

    def neg(self, a: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = _rows(a, t)
        out = np.empty_like(t.fwd)
        self._lib.lat_neg(_ptr(out), _ptr(a), _ptr(t.scalars), rows, n)
        return out

    def mul_const(self, a: np.ndarray, c: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = _rows(a, t)
        if c.shape != (rows,):
            raise ConfigError(f"an RNS constant has {rows} residues, not shape {c.shape}")
        k = np.ascontiguousarray(c, dtype=np.uint64)
        ks = np.array([shoup(int(x), q) for x, q in zip(k, t.params.primes, strict=True)], dtype=np.uint64)
        out = np.empty_like(t.fwd)
        self._lib.lat_mul_const(_ptr(out), _ptr(a), _ptr(k), _ptr(ks), _ptr(t.scalars), rows, n)
        return out

    def from_i64(self, v: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = t.fwd.shape
        if v.shape != (n,):
            raise ConfigError(f"{n} coefficients are needed, not shape {v.shape}")
        out = np.empty_like(t.fwd)
        self._lib.lat_from_i64(_ptr(out), _ptr(v, np.int64), _ptr(t.scalars), rows, n)
        return out

    def from_field(self, limbs: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = t.fwd.shape
        if limbs.shape != (n, 4):
            raise ConfigError(f"{n} field elements are needed, not shape {limbs.shape}")
        out = np.empty_like(t.fwd)
        self._lib.lat_from_field(_ptr(out), _ptr(limbs), _ptr(t.scalars), _ptr(t.lift), rows, n)
        return out

    def mod_switch(self, a: np.ndarray, t: NttTables) -> np.ndarray:
        rows, n = _rows(a, t)
        if rows < 2:
            raise ConfigError("a ring with one prime has no prime to drop")
        out = np.empty((rows - 1, n), dtype=np.uint64)
        self._lib.lat_mod_switch(_ptr(out), _ptr(a), _ptr(t.scalars), _ptr(t.switch), rows, n)
        return out

    def crt_to_field(self, a: np.ndarray, t: NttTables, c: CrtTables) -> np.ndarray:
        rows, n = _rows(a, t)
        if c.params != t.params:
            raise ConfigError("the CRT tables belong to another ring")
        out = np.empty((n, 4), dtype=np.uint64)
        self._lib.lat_to_field(_ptr(out), _ptr(a), _ptr(t.scalars), _ptr(c.crt), _ptr(c.qhat), _ptr(c.half),
                               _ptr(c.qhat_r), _ptr(c.kq_r), rows, n)
        return out

    def slot_ntt(self, limbs: np.ndarray, s: SlotTables) -> np.ndarray:
        out = self._slot_copy(limbs, s)
        self._lib.r_ntt(_ptr(out), _ptr(s.fwd), s.n)
        return out

    def slot_intt(self, limbs: np.ndarray, s: SlotTables) -> np.ndarray:
        out = self._slot_copy(limbs, s)
        self._lib.r_intt(_ptr(out), _ptr(s.inv), _ptr(s.ninv), s.n)
        return out

    @staticmethod
    def _slot_copy(limbs: np.ndarray, s: SlotTables) -> np.ndarray:
        if limbs.shape != (s.n, 4):
            raise ConfigError(f"{s.n} field elements are needed, not shape {limbs.shape}")
        return _copy(limbs)


def load() -> KernelOps | None:
    """The kernel if its library exists and loads, else None."""
    if not LIBRARY.exists():
        return None
    try:
        return KernelOps(ctypes.CDLL(str(LIBRARY)))
    except (OSError, AttributeError):
        # AttributeError: a stale library without one of the functions bound above.
        return None
