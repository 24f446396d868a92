"""ctypes binding of the C field kernel, with the interface of :mod:`offchain._fieldref`.

:func:`load` returns None when ``libmpccfield.so`` is absent or does not
load; :mod:`offchain.field` then stays on the reference.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path

import numpy as np

from offchain import _fieldref
from offchain.errors import DecodeError

P = _fieldref.P
_R = (1 << 256) % P
LIBRARY = Path(__file__).resolve().parent / "libmpccfield.so"
NAME = "kernel"


def _ptr(a: np.ndarray) -> int:
    """The address of ``a``'s elements, which must be contiguous.

    The caller keeps ``a`` referenced until the C call returns: ctypes releases
    the GIL for the call and Python may switch threads before it, so a buffer
    freed before the call may be taken and written by another thread (a peer's
    disk thread, a batch being decrypted) while C still reads it.
    """
    if not a.flags.c_contiguous:
        raise ValueError("the field kernel takes contiguous arrays only")
    return a.ctypes.data


def _scalar(s: int) -> np.ndarray:
    return _fieldref.from_ints([s % P])


class KernelOps:
    """Field operations on (n, 4) uint64 limb arrays, computed in C."""

    name = NAME

    def __init__(self, lib: ctypes.CDLL) -> None:
        vp, i64 = ctypes.c_void_p, ctypes.c_int64
        for fname, nargs in (("f_add", 3), ("f_sub", 3), ("f_add_scalar", 3), ("f_mul", 3),
                             ("f_mul_scalar", 3), ("f_mul_add", 4), ("f_dot", 3),
                             ("f_sum", 2), ("f_from_be", 2), ("f_to_be", 2), ("f_sample", 1),
                             ("f_horner", 3), ("f_beaver", 0), ("f_inv_sqrt", 0), ("f_binary", 0)):
            fn = getattr(lib, fname)
            if fname == "f_sample":
                fn.argtypes = [vp, i64, vp, i64]
            elif fname == "f_inv_sqrt":
                fn.argtypes = [vp] * 4 + [i64, i64]
            elif fname == "f_binary":
                fn.argtypes = [vp, vp, i64, i64]
            elif fname == "f_beaver":
                fn.argtypes = [vp] * 11 + [i64, i64]
            else:
                fn.argtypes = [vp] * nargs + [i64]
            fn.restype = i64 if fname in ("f_from_be", "f_sample", "f_inv_sqrt") else None
        self._lib = lib

    @staticmethod
    def _out(n: int) -> np.ndarray:
        return np.empty((n, 4), dtype=np.uint64)

    def _binary(self, fn: Callable[..., None], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = self._out(len(a))
        fn(_ptr(out), _ptr(a), _ptr(b), len(a))
        return out

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._binary(self._lib.f_add, a, b)

    def sub(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._binary(self._lib.f_sub, a, b)

    def neg(self, a: np.ndarray) -> np.ndarray:
        return self._binary(self._lib.f_sub, np.zeros_like(a), a)

    def add_scalar(self, a: np.ndarray, s: int) -> np.ndarray:
        return self._binary(self._lib.f_add_scalar, a, _scalar(s))

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._binary(self._lib.f_mul, a, b)

    def mul_scalar(self, a: np.ndarray, s: int) -> np.ndarray:
        # The kernel wants the scalar in Montgomery form, s * 2^256 mod P.
        return self._binary(self._lib.f_mul_scalar, a, _scalar(s * _R))

    def mul_add(self, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = self._out(len(a))
        self._lib.f_mul_add(_ptr(out), _ptr(c), _ptr(a), _ptr(b), len(a))
        return out

    def dot(self, a: np.ndarray, b: np.ndarray) -> int:
        out = self._out(1)
        self._lib.f_dot(_ptr(out), _ptr(a), _ptr(b), len(a))
        return _fieldref.to_ints(out)[0]

    def total(self, a: np.ndarray) -> int:
        out = self._out(1)
        self._lib.f_sum(_ptr(out), _ptr(a), len(a))
        return _fieldref.to_ints(out)[0]

    def horner(self, acc: int, a: np.ndarray, t: int) -> int:
        state, step = _scalar(acc), _scalar(t * _R)
        self._lib.f_horner(_ptr(state), _ptr(a), _ptr(step), len(a))
        return _fieldref.to_ints(state)[0]

    def binary(self, a: np.ndarray, width: int) -> np.ndarray:
        n = len(a) // width
        out = self._out(n)
        self._lib.f_binary(_ptr(out), _ptr(a), n, width)
        return out

    def beaver(self, cs: np.ndarray, cm: np.ndarray, as_: np.ndarray, am: np.ndarray,
               bs: np.ndarray, bm: np.ndarray, d: np.ndarray, e: np.ndarray, alpha: int,
               first: bool) -> tuple[np.ndarray, np.ndarray]:
        n = len(d)
        zs, zm, key = self._out(n), self._out(n), _scalar(alpha * _R)
        self._lib.f_beaver(*(_ptr(v) for v in (zs, zm, cs, cm, as_, am, bs, bm, d, e, key)), int(first), n)
        return zs, zm

    def from_be(self, data: bytes | memoryview, n: int) -> np.ndarray:
        src = np.frombuffer(data, dtype=np.uint8, count=32 * n)
        out = self._out(n)
        bad = self._lib.f_from_be(_ptr(out), _ptr(src), n)
        if bad:
            raise DecodeError(f"element {bad - 1} is not below the field modulus")
        return out

    def to_be(self, a: np.ndarray, prefix: bytes = b"") -> bytes:
        out = np.empty(len(prefix) + 32 * len(a), dtype=np.uint8)
        out[:len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
        self._lib.f_to_be(_ptr(out) + len(prefix), _ptr(a), len(a))
        return out.tobytes()

    def inv_sqrt(self, a: np.ndarray) -> np.ndarray | None:
        out, scratch, consts = self._out(len(a)), self._out(len(a)), _SQRT_CONSTS
        failed = self._lib.f_inv_sqrt(_ptr(out), _ptr(scratch), _ptr(a), _ptr(consts), _fieldref.TWO_ADICITY, len(a))
        return out if failed < 0 else None

    def sample(self, n: int, randbytes: Callable[[int], bytes]) -> np.ndarray:
        out = self._out(n)
        filled = 0
        while filled < n:
            need = n - filled
            m = need + need // 3 + 8
            buf = np.frombuffer(randbytes(32 * m), dtype=np.uint8)
            filled += self._lib.f_sample(_ptr(out) + 32 * filled, need, _ptr(buf), m)
        return out


_SQRT_CONSTS = _fieldref.from_ints([(_fieldref.ODD - 1) // 2, P - 2, (P - 1) // 2]
                                   + [g * _R % P for g in _fieldref.G_POWERS])
"""What f_inv_sqrt takes: its exponents, (P - 1) / 2, and the powers of g in Montgomery form."""


def load() -> KernelOps | None:
    """The kernel if its library exists and loads, else None."""
    if not LIBRARY.exists():
        return None
    try:
        return KernelOps(ctypes.CDLL(str(LIBRARY)))
    except OSError:
        return None
