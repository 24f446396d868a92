"""Byte formats of BGV public keys and ciphertexts, as LowGear's messages carry them.

Version 1, all multi-byte integers big-endian except the residues::

    public key:  0x01 | 0x01 (kind) | log2 N (1) | L (1) | a | b
    ciphertext:  0x01 | 0x02 (kind) | log2 N (1) | L (1) | scale (32) | c0 | c1

where each polynomial (a and b in evaluation form, c0 and c1 in coefficient
form) is L rows of N residues, row i modulo the ring's prime q_i, each an
8-byte little-endian unsigned integer (the kernel's layout, so encoding is a
copy). L is the number of primes in use: all of the ring's for a public key,
any level from 1 to all of them for a ciphertext (a LowGear return is
switched down). ``scale`` is the ciphertext's public plaintext factor (see
:mod:`offchain.lattice.bgv`), 1 <= scale < r.

The bytes do not name the primes: a reader passes the ring it expects (every
party derives it from the session's parameters) and the level selects its
first L primes. Decoding refuses, with DecodeError, an unknown version or
kind, a dimension or level the ring does not have, a length that does not
match, a residue not below its prime and a scale outside [1, r).
"""

from __future__ import annotations

import numpy as np

from offchain.errors import DecodeError
from offchain.lattice.bgv import Ciphertext, PublicKey
from offchain.lattice.params import PLAINTEXT_MODULUS, RingParams
from offchain.lattice.ring import CoeffPoly, EvalPoly

WIRE_VERSION = 1
KIND_PUBLIC_KEY = 1
KIND_CIPHERTEXT = 2
_HEAD = 4
_SCALE_BYTES = 32
_RESIDUE = np.dtype("<u8")


def polynomial_bytes(params: RingParams) -> int:
    """The size of one polynomial of ``params`` on the wire: L * N residues of 8 bytes."""
    return params.levels * params.n * _RESIDUE.itemsize


def public_key_size(params: RingParams) -> int:
    return _HEAD + 2 * polynomial_bytes(params)


def ciphertext_size(params: RingParams, levels: int | None = None) -> int:
    """The size of a ciphertext of ``params`` at ``levels`` primes (default all)."""
    ring = params if levels is None else params.prefix(levels)
    return _HEAD + _SCALE_BYTES + 2 * polynomial_bytes(ring)


def public_key_to_bytes(pk: PublicKey) -> bytes:
    """The public key in version 1 (see the module docstring)."""
    return b"".join((_head(KIND_PUBLIC_KEY, pk.params), _rows(pk.a.residues), _rows(pk.b.residues)))


def ciphertext_to_bytes(ct: Ciphertext) -> bytes:
    """The ciphertext in version 1, with its level and its plaintext scale (see the module docstring)."""
    return b"".join((_head(KIND_CIPHERTEXT, ct.params), ct.scale.to_bytes(_SCALE_BYTES, "big"),
                     _rows(ct.c0.residues), _rows(ct.c1.residues)))


def public_key_from_bytes(data: bytes | memoryview, params: RingParams) -> PublicKey:
    """Parses :func:`public_key_to_bytes` for the ring ``params``; DecodeError if malformed."""
    view = memoryview(data)
    ring = _read_head(view, KIND_PUBLIC_KEY, params)
    if ring.levels != params.levels:
        raise DecodeError(f"public key: {ring.levels} primes where the ring has {params.levels}")
    _check_length(view, public_key_size(ring), "public key")
    size = polynomial_bytes(ring)
    a = EvalPoly(_read_rows(view[_HEAD:_HEAD + size], ring, "public key"), ring)
    b = EvalPoly(_read_rows(view[_HEAD + size:], ring, "public key"), ring)
    return PublicKey(a, b)


def ciphertext_from_bytes(data: bytes | memoryview, params: RingParams) -> Ciphertext:
    """Parses :func:`ciphertext_to_bytes` at any level of the ring ``params``; DecodeError if malformed."""
    view = memoryview(data)
    ring = _read_head(view, KIND_CIPHERTEXT, params)
    _check_length(view, ciphertext_size(ring), "ciphertext")
    scale = int.from_bytes(view[_HEAD:_HEAD + _SCALE_BYTES], "big")
    if not 1 <= scale < PLAINTEXT_MODULUS:
        raise DecodeError("ciphertext: the plaintext scale is not a non-zero element of Z_r")
    start, size = _HEAD + _SCALE_BYTES, polynomial_bytes(ring)
    c0 = CoeffPoly(_read_rows(view[start:start + size], ring, "ciphertext"), ring)
    c1 = CoeffPoly(_read_rows(view[start + size:], ring, "ciphertext"), ring)
    return Ciphertext(c0, c1, scale)


def _head(kind: int, params: RingParams) -> bytes:
    return bytes((WIRE_VERSION, kind, params.n.bit_length() - 1, params.levels))


def _rows(residues: np.ndarray) -> bytes:
    return residues.astype(_RESIDUE, copy=False).tobytes()


def _read_head(view: memoryview, kind: int, params: RingParams) -> RingParams:
    """The ring (``params`` cut to the message's level) after checking version, kind and dimension."""
    what = "public key" if kind == KIND_PUBLIC_KEY else "ciphertext"
    if len(view) < _HEAD or view[0] != WIRE_VERSION or view[1] != kind:
        raise DecodeError(f"{what}: too short, unknown version or not a {what}")
    log_n, levels = view[2], view[3]
    if log_n >= 63 or 1 << log_n != params.n:
        raise DecodeError(f"{what}: dimension 2^{log_n} where the ring has {params.n}")
    if not 1 <= levels <= params.levels:
        raise DecodeError(f"{what}: {levels} primes where the ring has 1 to {params.levels}")
    return params.prefix(levels)


def _check_length(view: memoryview, expected: int, what: str) -> None:
    if len(view) != expected:
        raise DecodeError(f"{what}: {len(view)} bytes where {expected} were expected")


def _read_rows(view: memoryview, ring: RingParams, what: str) -> np.ndarray:
    """An (L, N) uint64 array of residues, each checked to lie below its prime."""
    rows = np.frombuffer(view, dtype=_RESIDUE, count=ring.levels * ring.n).reshape(ring.levels, ring.n)
    rows = rows.astype(np.uint64)  # A native, writable copy: the polynomial takes ownership of it.
    moduli = np.array(ring.primes, dtype=np.uint64).reshape(-1, 1)
    if not np.all(rows < moduli):
        raise DecodeError(f"{what}: a residue is not below its prime")
    return rows
