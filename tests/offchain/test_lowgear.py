"""LowGear's byte formats: BGV public keys and ciphertexts round-trip, and malformed bytes are refused.

Small rings (N = 64 with twelve 61-bit primes, so levels and switching are
those of production) carry the tests.
"""
# ruff: noqa: S101, S311 - pytest asserts, and seeded `random` makes reproducible test data (never secrets).

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from offchain.errors import DecodeError
from offchain.field import FieldVec
from offchain.lattice.bgv import Ciphertext, encrypt, keygen
from offchain.lattice.params import PLAINTEXT_MODULUS, small
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import encode
from offchain.lattice.wire import (
    ciphertext_from_bytes,
    ciphertext_size,
    ciphertext_to_bytes,
    public_key_from_bytes,
    public_key_size,
    public_key_to_bytes,
)

PARAMS = small(64, 12)


def stream(seed: int) -> RandBytes:
    return random.Random(seed).randbytes


# Wire formats ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def material() -> tuple[bytes, bytes, bytes]:
    """A public key, a fresh ciphertext and a switched one (scale != 1), as bytes."""
    rb = stream(1)
    _, pk = keygen(PARAMS, rb)
    fresh = encrypt(pk, encode(FieldVec.random(PARAMS.n, rb)), rb)
    low = (fresh * encode(FieldVec.random(PARAMS.n, rb))).switch_to(6)
    return public_key_to_bytes(pk), ciphertext_to_bytes(fresh), ciphertext_to_bytes(low)


def same_ciphertext(x: Ciphertext, y: Ciphertext) -> bool:
    return x.c0 == y.c0 and x.c1 == y.c1 and x.scale == y.scale


def test_public_key_round_trip() -> None:
    rb = stream(2)
    sk, pk = keygen(PARAMS, rb)
    data = public_key_to_bytes(pk)
    assert data[:4] == bytes((1, 1, 6, 12)) and len(data) == public_key_size(PARAMS)
    back = public_key_from_bytes(data, PARAMS)
    assert back.a == pk.a and back.b == pk.b
    x = FieldVec.random(PARAMS.n, rb)
    assert sk.decrypt_slots(encrypt(back, encode(x), rb)) == x  # The parsed key encrypts to the secret key.


def test_ciphertext_round_trip_keeps_level_and_scale() -> None:
    rb = stream(3)
    sk, pk = keygen(PARAMS, rb)
    x, y = FieldVec.random(PARAMS.n, rb), FieldVec.random(PARAMS.n, rb)
    fresh = encrypt(pk, encode(x), rb)
    low = (fresh * encode(y)).switch_to(6)
    for ct in (fresh, low):
        data = ciphertext_to_bytes(ct)
        assert data[:4] == bytes((1, 2, 6, ct.levels)) and len(data) == ciphertext_size(PARAMS, ct.levels)
        assert same_ciphertext(ciphertext_from_bytes(data, PARAMS), ct)
    assert low.scale != 1 and sk.decrypt_slots(ciphertext_from_bytes(ciphertext_to_bytes(low), PARAMS)) == x * y


def patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new):]


def residue_at_prime(data: bytes, offset: int, prime: int) -> bytes:
    """The bytes with the residue at ``offset`` replaced by the prime itself (one past the largest valid)."""
    return patch(data, offset, prime.to_bytes(8, "little"))


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda d: d[:-1], id="truncated"),
    pytest.param(lambda d: d + b"\x00", id="trailing"),
    pytest.param(lambda d: d[:3], id="no-head"),
    pytest.param(lambda d: patch(d, 0, b"\x02"), id="version"),
    pytest.param(lambda d: patch(d, 1, b"\x01"), id="read-as-key"),
    pytest.param(lambda d: patch(d, 2, b"\x07"), id="dimension"),
    pytest.param(lambda d: patch(d, 2, b"\xff"), id="huge-dimension"),
    pytest.param(lambda d: patch(d, 3, b"\x00"), id="no-primes"),
    pytest.param(lambda d: patch(d, 3, b"\x0d"), id="more-primes-than-the-ring"),
    pytest.param(lambda d: patch(d, 4, bytes(32)), id="scale-zero"),
    pytest.param(lambda d: patch(d, 4, PLAINTEXT_MODULUS.to_bytes(32, "big")), id="scale-r"),
    pytest.param(lambda d: residue_at_prime(d, 36, PARAMS.primes[0]), id="c0-residue"),
    pytest.param(lambda d: residue_at_prime(d, len(d) - 8, PARAMS.primes[11]), id="c1-last-residue"),
])
def test_malformed_ciphertexts_are_refused(material: tuple[bytes, bytes, bytes],
                                           mutate: Callable[[bytes], bytes]) -> None:
    _, fresh, _ = material
    with pytest.raises(DecodeError):
        ciphertext_from_bytes(mutate(fresh), PARAMS)


def test_malformed_public_keys_are_refused(material: tuple[bytes, bytes, bytes]) -> None:
    key, fresh, low = material
    bad = [key[:-8], patch(key, 0, b"\x00"), patch(key, 1, b"\x02"), patch(key, 3, b"\x06"),
           residue_at_prime(key, 4 + 8 * PARAMS.n, PARAMS.primes[1]), fresh]
    for data in bad:
        with pytest.raises(DecodeError):
            public_key_from_bytes(data, PARAMS)
    with pytest.raises(DecodeError):  # A ring with other primes has other residue rows and sizes.
        public_key_from_bytes(key, small(64, 11))
    with pytest.raises(DecodeError):
        ciphertext_from_bytes(low, small(32, 12))
    # A switched ciphertext at 6 primes fits any ring of the same dimension with at least 6 primes.
    assert ciphertext_from_bytes(low, PARAMS).levels == 6
