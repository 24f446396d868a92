"""RNS polynomials of R_Q = Z_Q[X]/(X^N + 1), in coefficient or evaluation form.

A polynomial is held as an (L, N) uint64 array whose row i is the polynomial
modulo q_i (the residue number system: by the CRT, Z_Q = Z_q0 x ... x Z_q(L-1)).
Each value is canonical, in [0, q_i). The two forms are two types, so a
product can only be taken where it is pointwise (:class:`EvalPoly`) and
modulus switching only where it is defined (:class:`CoeffPoly`); ``ntt()`` and
``intt()`` move between them (the negacyclic NTT, see :mod:`offchain.lattice.tables`).

The arithmetic runs in the C kernel (:mod:`offchain.lattice._kernel`) when it
is built, else in the pure-Python reference (:mod:`offchain.lattice._reference`),
which is the specification. Set ``MPCC_LATTICE=reference`` to force the reference.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol, Self

import numpy as np

from offchain.errors import ConfigError
from offchain.field import FieldVec
from offchain.lattice import _kernel, _reference
from offchain.lattice.params import RingParams
from offchain.lattice.tables import CrtTables, NttTables, SlotTables, crt_tables, ntt_tables


class LatticeOps(Protocol):
    """What a backend provides; see :mod:`offchain.lattice._reference` for the meaning."""

    name: str

    def ntt(self, a: np.ndarray, t: NttTables) -> np.ndarray: ...
    def intt(self, a: np.ndarray, t: NttTables) -> np.ndarray: ...
    def add(self, a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray: ...
    def sub(self, a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray: ...
    def neg(self, a: np.ndarray, t: NttTables) -> np.ndarray: ...
    def mul(self, a: np.ndarray, b: np.ndarray, t: NttTables) -> np.ndarray: ...
    def mul_const(self, a: np.ndarray, c: np.ndarray, t: NttTables) -> np.ndarray: ...
    def from_i64(self, v: np.ndarray, t: NttTables) -> np.ndarray: ...
    def from_field(self, limbs: np.ndarray, t: NttTables) -> np.ndarray: ...
    def mod_switch(self, a: np.ndarray, t: NttTables) -> np.ndarray: ...
    def crt_to_field(self, a: np.ndarray, t: NttTables, c: CrtTables) -> np.ndarray: ...
    def slot_ntt(self, limbs: np.ndarray, s: SlotTables) -> np.ndarray: ...
    def slot_intt(self, limbs: np.ndarray, s: SlotTables) -> np.ndarray: ...


def _select_backend() -> Any:
    if os.environ.get("MPCC_LATTICE", "").lower() == "reference":
        return _reference
    return _kernel.load() or _reference


ops: LatticeOps = _select_backend()
"""The backend in use; :mod:`offchain.lattice.slots` shares it."""
BACKEND: str = ops.name


def rns_constant(value: int, params: RingParams) -> np.ndarray:
    """The residues of the integer ``value`` (any sign or size) modulo each prime, as an (L,) array."""
    return np.array([value % q for q in params.primes], dtype=np.uint64)


class _RnsPoly:
    """An immutable element of R_Q in RNS; the subclass says which form the rows are in."""

    __slots__ = ("_a", "_params")
    _a: np.ndarray
    _params: RingParams

    def __init__(self, residues: np.ndarray, params: RingParams) -> None:
        """Wraps an (L, N) uint64 array of canonical residues; takes ownership (it becomes read-only)."""
        shape = (params.levels, params.n)
        if residues.shape != shape or residues.dtype != np.uint64:
            raise ConfigError(f"an RNS polynomial is a {shape} uint64 array, not {residues.shape} {residues.dtype}")
        moduli = np.array(params.primes, dtype=np.uint64).reshape(-1, 1)
        if not np.all(residues < moduli):
            raise ConfigError("an RNS polynomial holds residues below their primes only")
        self._init(residues, params)

    def _init(self, residues: np.ndarray, params: RingParams) -> None:
        residues = np.ascontiguousarray(residues)
        residues.flags.writeable = False
        object.__setattr__(self, "_a", residues)
        object.__setattr__(self, "_params", params)

    @classmethod
    def _trusted(cls, residues: np.ndarray, params: RingParams) -> Self:
        """Wraps a backend's output, canonical by construction, without the range check."""
        poly = object.__new__(cls)
        poly._init(residues, params)
        return poly

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @classmethod
    def zeros(cls, params: RingParams) -> Self:
        return cls._trusted(np.zeros((params.levels, params.n), dtype=np.uint64), params)

    @property
    def params(self) -> RingParams:
        return self._params

    @property
    def residues(self) -> np.ndarray:
        """The read-only (L, N) residue array."""
        return self._a

    @property
    def _tables(self) -> NttTables:
        return ntt_tables(self._params)

    def _same(self, other: _RnsPoly) -> np.ndarray:
        if type(other) is not type(self):
            raise ConfigError(f"cannot combine a {type(self).__name__} with a {type(other).__name__}")
        if other._params != self._params:
            raise ConfigError("the polynomials belong to different rings (or levels)")
        return other._a

    def __add__(self, other: Self) -> Self:
        return self._trusted(ops.add(self._a, self._same(other), self._tables), self._params)

    def __sub__(self, other: Self) -> Self:
        return self._trusted(ops.sub(self._a, self._same(other), self._tables), self._params)

    def __neg__(self) -> Self:
        return self._trusted(ops.neg(self._a, self._tables), self._params)

    def scale(self, value: int) -> Self:
        """The polynomial times an integer constant (reduced modulo each prime); same form."""
        return self.scale_rns(rns_constant(value, self._params))

    def scale_rns(self, constant: np.ndarray) -> Self:
        """The polynomial times the RNS constant whose residue modulo q_i is ``constant[i]`` < q_i."""
        constant = np.asarray(constant, dtype=np.uint64)
        if constant.shape != (self._params.levels,) or not all(
                int(c) < q for c, q in zip(constant, self._params.primes, strict=True)):
            raise ConfigError("an RNS constant has one canonical residue per prime")
        return self._trusted(ops.mul_const(self._a, constant, self._tables), self._params)

    def prefix(self, levels: int) -> Self:
        """The same polynomial modulo the first ``levels`` primes only: a reduction mod Q', not a switch.

        Rows are independent in both forms (each prime has its own transform),
        so the first rows are the polynomial in the smaller ring, in the same form.
        """
        lower = self._params.prefix(levels)
        return self._trusted(self._a[:levels].copy(), lower)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _RnsPoly) or type(other) is not type(self):
            return NotImplemented
        return self._params == other._params and bool(np.array_equal(self._a, other._a))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self._params.n}, levels={self._params.levels})"


class CoeffPoly(_RnsPoly):
    """A polynomial of R_Q by its coefficients' residues: row i, column j is a_j mod q_i."""

    __slots__ = ()

    @classmethod
    def from_ints(cls, coeffs: Sequence[int], params: RingParams) -> CoeffPoly:
        """Coefficients given as Python ints of any sign and size, reduced modulo each prime."""
        if len(coeffs) != params.n:
            raise ConfigError(f"{params.n} coefficients are needed, not {len(coeffs)}")
        values = np.array([int(c) for c in coeffs], dtype=object)
        return cls._trusted(np.stack([(values % q).astype(np.uint64) for q in params.primes]), params)

    @classmethod
    def from_small(cls, coeffs: np.ndarray, params: RingParams) -> CoeffPoly:
        """Signed coefficients below 2^63 in absolute value (noise, keys, masks) given as int64."""
        v = np.ascontiguousarray(coeffs, dtype=np.int64)
        return cls._trusted(ops.from_i64(v, ntt_tables(params)), params)

    @classmethod
    def from_field(cls, coeffs: FieldVec, params: RingParams) -> CoeffPoly:
        """A plaintext's coefficients in Z_r, each lifted to its representative in (-r/2, r/2]."""
        limbs = coeffs.limbs
        return cls._trusted(ops.from_field(limbs, ntt_tables(params)), params)

    def to_centred(self) -> list[int]:
        """The coefficients as integers in (-Q/2, Q/2], by CRT reconstruction.

        x = sum_i [a_i * (Q/q_i)^-1]_{q_i} * (Q/q_i) mod Q (Garner's formula
        in its direct form), computed on Python ints: slow, exact.
        """
        modulus, parts = _crt_basis(self._params)
        total = np.zeros(self._params.n, dtype=object)
        for row, (q, inverse, cofactor) in zip(self._a, parts, strict=True):
            total = total + (row.astype(object) * inverse % q) * cofactor
        half = modulus // 2
        return [v - modulus if v > half else v for v in (int(x) % modulus for x in total)]

    def to_field(self) -> FieldVec:
        """The centred coefficients modulo r: a decrypted plaintext's coefficients in Z_r.

        The same values as ``to_centred()`` reduced mod r, computed by the
        backend without Python ints (the kernel in constant time: decryption
        passes secret values through here).
        """
        return FieldVec(ops.crt_to_field(self._a, self._tables, crt_tables(self._params)))

    def ntt(self) -> EvalPoly:
        """The evaluation form: row i holds a(psi_i^(2 brv(k) + 1)) mod q_i at column k."""
        return EvalPoly._trusted(ops.ntt(self._a, self._tables), self._params)

    def mod_switch(self) -> CoeffPoly:
        """Drops the last prime q_L with BGV modulus switching, keeping the plaintext modulo t = r.

        The rule, coefficient by coefficient, for c in Z_Q given by its residues
        (Q = q_1 ... q_L with q_L the last prime, Q' = Q / q_L, t = r):

            v     = [t^-1 * c]_{q_L}, the representative in [-(q_L-1)/2, (q_L-1)/2]
            delta = t * v            so delta = c (mod q_L), delta = 0 (mod t), |delta| <= t q_L / 2
            c'    = (c - delta) / q_L, an exact integer division, returned modulo Q'

        Hence c' = c * q_L^-1 (mod t) as integers and |c' - c / q_L| <= t / 2
        (Brakerski-Gentry-Vaikuntanathan 2012, with the scaled-delta variant of
        Gentry-Halevi-Smart 2012). Applied to both parts of a ciphertext whose
        decryption <c, s> mod Q is m + t e, it gives one that decrypts to
        (m + t e - t <v, s>) / q_L mod Q' = m * q_L^-1 (mod t) while that stays
        below Q'/2: the noise shrinks by q_L and gains t <v, s> / q_L, at most
        (t/2) ||s||_1 per coefficient. So the plaintext is multiplied by
        ``params.switch_factor()``; multiply the decrypted plaintext by q_L mod
        t, or encrypt m * q_L in the first place, to read m back.
        """
        if self._params.levels < 2:
            raise ConfigError("a ring with one prime has no prime to drop")
        lower = self._params.prefix(self._params.levels - 1)
        return CoeffPoly._trusted(ops.mod_switch(self._a, self._tables), lower)

    def switch_to(self, levels: int) -> CoeffPoly:
        """Drops primes from the end, one at a time, until ``levels`` remain (see :meth:`mod_switch`).

        The plaintext is multiplied by the product of each dropped prime's
        inverse modulo t: ``params.switch_factor(levels)``.
        """
        if not 1 <= levels <= self._params.levels:
            raise ConfigError(f"cannot switch from {self._params.levels} primes to {levels}")
        poly = self
        while poly._params.levels > levels:
            poly = poly.mod_switch()
        return poly

    def times_monomial(self, power: int) -> CoeffPoly:
        """The polynomial times X^power, 0 <= power < 2N: a negacyclic rotation of the coefficients.

        X^N = -1, so coefficient j moves to j + power and changes sign each
        time it wraps past N; X^(N + i) = -X^i. No arithmetic beyond negation
        modulo each prime, which is why a TopGear challenge is a monomial.
        """
        n = self._params.n
        if not 0 <= power < 2 * n:
            raise ConfigError(f"X^{power} is not a power below 2N = {2 * n}")
        shift = power % n
        out = np.empty_like(self._a)
        out[:, shift:] = self._a[:, :n - shift]
        out[:, :shift] = self._a[:, n - shift:]
        wrapped = out[:, :shift] if power < n else out[:, shift:]
        moduli = np.array(self._params.primes, dtype=np.uint64).reshape(-1, 1)
        negated = moduli - wrapped
        negated[negated == moduli] = 0  # -0 is 0, not q: residues stay canonical.
        wrapped[...] = negated
        return CoeffPoly._trusted(out, self._params)


class EvalPoly(_RnsPoly):
    """A polynomial of R_Q in evaluation form: products are pointwise."""

    __slots__ = ()

    def __mul__(self, other: EvalPoly) -> EvalPoly:
        """The product in R_Q (negacyclic convolution of the coefficients)."""
        if not isinstance(other, EvalPoly):
            return NotImplemented
        return EvalPoly._trusted(ops.mul(self._a, self._same(other), self._tables), self._params)

    def intt(self) -> CoeffPoly:
        """Back to coefficient form."""
        return CoeffPoly._trusted(ops.intt(self._a, self._tables), self._params)


@cache
def _crt_basis(params: RingParams) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """Q and, per prime q_i, (q_i, (Q/q_i)^-1 mod q_i, Q/q_i)."""
    modulus = params.modulus
    return modulus, tuple((q, pow(modulus // q, -1, q), modulus // q) for q in params.primes)
