"""The dealer: produces MAC'd tuples in batches, one :class:`PartyBatch` per party.

The dealer knows the global MAC key alpha and every tuple, so it must not
collude with any party; the parties never trust its arithmetic and run the
sacrifice (offchain.engine.sacrifice) on every batch before use.

Each batch carries the auxiliary tuples its sacrifice consumes::

    triple      checks = (f, g, h)    one more triple per triple
    square      checks = (f, h)       one more square per square
    bit         checks = (f, h)       one square per bit (b is checked as the square pair (b, b))
    input_mask  checks = (s,)         one uniform mask per batch, known to the owner

Truncation pairs are not dealt: the parties build them from checked bits
(offchain.preprocessing.tuples.pairs_from_bits), since nobody could check
the range of a dealt pair.

Randomness comes from :class:`StreamBytes` (a ChaCha20 keystream under a key
from ``secrets``: os.urandom cannot supply the ~100 MB a batch of a million
triples needs at speed).
"""

from __future__ import annotations

import secrets

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from offchain.errors import ConfigError
from offchain.field import FieldVec, RandBytes
from offchain.preprocessing.tuples import BATCH_ID_BYTES, PartyBatch, TupleKey, TupleKind
from offchain.shares import MacKeyShare, SharedVec, deal, split_key


class StreamBytes:
    """Cryptographic random bytes: the ChaCha20 keystream (RFC 8439) under a fresh 256-bit key.

    The key comes from ``secrets``; each call returns the next bytes of the
    stream. A new key is drawn every 2^36 bytes, far below the 2^38 bytes a
    32-bit block counter covers, so the keystream never repeats.
    """

    __slots__ = ("_encryptor", "_left")
    REKEY_BYTES = 1 << 36

    def __init__(self) -> None:
        self._rekey()

    def _rekey(self) -> None:
        cipher = Cipher(algorithms.ChaCha20(secrets.token_bytes(32), bytes(16)), mode=None)
        self._encryptor = cipher.encryptor()
        self._left = self.REKEY_BYTES

    def __call__(self, n: int) -> bytes:
        if n > self._left:
            if n > self.REKEY_BYTES:
                raise ConfigError(f"{n} random bytes in one call: ask for fewer")
            self._rekey()
        self._left -= n
        return self._encryptor.update(bytes(n))


class Dealer:
    """Makes batches of authenticated tuples for ``n_parties`` parties under key ``alpha``."""

    def __init__(self, n_parties: int, alpha: int, randbytes: RandBytes | None = None
                 ) -> None:
        if n_parties < 2:
            raise ConfigError(f"MPC needs at least 2 parties, got {n_parties}")
        self.n_parties = n_parties
        self._alpha = alpha
        self._rand = randbytes or StreamBytes()

    @classmethod
    def create(cls, n_parties: int, randbytes: RandBytes | None = None
               ) -> tuple[Dealer, list[MacKeyShare]]:
        """A dealer with a fresh MAC key, and the parties' shares of that key."""
        randbytes = randbytes or StreamBytes()
        alpha = FieldVec.random(1, randbytes)[0]
        return cls(n_parties, alpha, randbytes), split_key(alpha, n_parties, randbytes)

    def batch(self, key: TupleKey, count: int) -> list[PartyBatch]:
        """``count`` tuples of ``key`` (plus their checks), one batch per party."""
        if count < 1:
            raise ConfigError(f"a batch holds at least one tuple, got {count}")
        kind = key.kind
        if kind is TupleKind.TRIPLE:
            return self._triples(key, count)
        if kind in (TupleKind.SQUARE, TupleKind.BIT):
            return self._squares_or_bits(key, count)
        if kind is TupleKind.INPUT_MASK:
            return self._input_masks(key, count)
        raise ConfigError(f"{key} is not dealt: truncation pairs are built from checked bits")

    def triples(self, count: int) -> list[PartyBatch]:
        return self.batch(TupleKey(TupleKind.TRIPLE), count)

    def squares(self, count: int) -> list[PartyBatch]:
        return self.batch(TupleKey(TupleKind.SQUARE), count)

    def bits(self, count: int) -> list[PartyBatch]:
        return self.batch(TupleKey(TupleKind.BIT), count)

    def input_masks(self, owner: int, count: int) -> list[PartyBatch]:
        return self.batch(TupleKey(TupleKind.INPUT_MASK, owner=owner), count)

    # Generation -------------------------------------------------------------------------
    def _deal(self, values: FieldVec) -> list[SharedVec]:
        return deal(values, self._alpha, self.n_parties, self._rand)

    def _package(self, key: TupleKey, columns: list[FieldVec], checks: list[FieldVec],
                 clear: FieldVec | None = None) -> list[PartyBatch]:
        batch_id = self._rand(BATCH_ID_BYTES)
        dealt = [self._deal(v) for v in columns + checks]
        width = len(columns)
        return [PartyBatch(batch_id, key, i, self.n_parties,
                           tuple(d[i] for d in dealt[:width]), tuple(d[i] for d in dealt[width:]),
                           clear if i == key.owner else None)
                for i in range(self.n_parties)]

    def _triples(self, key: TupleKey, count: int) -> list[PartyBatch]:
        a, b, f, g = (FieldVec.random(count, self._rand) for _ in range(4))
        return self._package(key, [a, b, a * b], [f, g, f * g])

    def _squares_or_bits(self, key: TupleKey, count: int) -> list[PartyBatch]:
        f = FieldVec.random(count, self._rand)
        if key.kind is TupleKind.BIT:
            raw = np.frombuffer(self._rand((count + 7) // 8), dtype=np.uint8)
            limbs = np.zeros((count, 4), dtype=np.uint64)
            limbs[:, 0] = np.unpackbits(raw, bitorder="little")[:count]
            return self._package(key, [FieldVec(limbs)], [f, f * f])
        a = FieldVec.random(count, self._rand)
        return self._package(key, [a, a * a], [f, f * f])

    def _input_masks(self, key: TupleKey, count: int) -> list[PartyBatch]:
        r = FieldVec.random(count, self._rand)
        s = FieldVec.random(1, self._rand)
        return self._package(key, [r], [s], FieldVec.concat([r, s]))
