"""Each party's BGV key pair for a session, proven well formed with the TopGear proof of the ciphertexts.

A public key (a, b = a s + t e) is, read the right way, an encryption: under
the statement key (a, 0), the preimage (m, v, e0, e1) = (0, s, 0, e)
encrypts to (0 * s + t * 0 + 0, a s + t e) = (0, b). So the proof every
announced ciphertext carries (:mod:`offchain.lattice.zk`, TopGear with the
challenge from the joint coin) proves the key too, with the same soundness
(2^-48 per proof in production) and the same zero knowledge for s and e.
:func:`offchain.dealerless.announce.exchange_keys` runs the steps:

1. Each party derives its key pair from a fresh seed (:func:`key_pair`: the
   honest :func:`offchain.lattice.bgv.keygen` drawing from
   :func:`seed_stream`, so that a member can keep the seed and derive the
   same key in a later session) and broadcasts its public key.
2. It announces the statement (0, b) under (a, 0) with its proof
   (:func:`offchain.dealerless.announce.broadcast_proven`: commitments, then
   the joint coin, then the responses).
3. Every party checks every peer's proof and that the statement is the
   public key it broadcast; a failure raises ProofFailed naming every party
   that failed, before any ciphertext is encrypted under any key.

What it proves: a verified proof vouches for 2 (0, b), so 2 b = a v' + t e'
with ||v'|| <= 2N times the verifier's bound on a ternary part and ||e'||
<= 2N times its bound on a noise part (``ProofParams.extracted``: 2^77 and
2^81 in production), not s ternary and e binomial exactly. A party with such
a key decrypts 2 C with the secret v' (2 c0 - v' c1 = 2 m + t x): the
flooding of the returns it receives is sized to hide what it could learn
through such a key (:mod:`offchain.lattice.noise`, docs/dealerless-noise.md),
and an honest party's own key, exact, decrypts within the margin. A cheater
gains nothing by a key outside the honest distribution but within the
proof's bounds; one outside them is caught except with probability 2^-48.
(Before this proof the keys were checked by cut and choose on 64 seeds:
exact, but covert, a cheater escaping with probability 1/64.)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from offchain.errors import ConfigError, ProofFailed
from offchain.lattice.bgv import Ciphertext, PublicKey, SecretKey, keygen_with_witness
from offchain.lattice.params import RingParams
from offchain.lattice.ring import CoeffPoly, EvalPoly
from offchain.lattice.sampling import RandBytes
from offchain.lattice.wide import WidePoly
from offchain.lattice.zk import Preimage

SEED_BYTES = 32
_SEED_TAG = b"mpcc-lowgear-key-seed-v2"


@dataclass(frozen=True, eq=False)
class SessionKeys:
    """One party's BGV keys for a session and every party's public key (its own at index ``party``).

    ``seed`` derives the secret key (:func:`key_pair`): what a member keeps,
    sealed, to use the same keys in a later session (:mod:`offchain.dealerless.kept`).
    """

    params: RingParams
    party: int
    secret: SecretKey
    public: tuple[PublicKey, ...]
    seed: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.party < len(self.public):
            raise ConfigError(f"party {self.party} has no public key among {len(self.public)}")
        if any(pk.params != self.params for pk in self.public) or self.secret.params != self.params:
            raise ConfigError("every key of a session belongs to its ring")

    @property
    def peers(self) -> list[int]:
        return [j for j in range(len(self.public)) if j != self.party]


def seed_stream(seed: bytes) -> RandBytes:
    """A deterministic byte source: its i-th call returns the ChaCha20 keystream of the length asked, under the
    key SHA-256(tag || seed || i (8 bytes)) and a zero nonce.

    Every party that knows the seed replays the same calls of the same
    sampler, so it derives the same key pair.
    """
    if len(seed) != SEED_BYTES:
        raise ConfigError(f"a key seed has {SEED_BYTES} bytes, not {len(seed)}")
    calls = 0

    def randbytes(count: int) -> bytes:
        nonlocal calls
        key = hashlib.sha256(_SEED_TAG + seed + calls.to_bytes(8, "big")).digest()
        calls += 1
        return Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update(bytes(count))

    return randbytes


def key_pair(params: RingParams, seed: bytes) -> tuple[SecretKey, PublicKey]:
    """The key pair a seed derives: :func:`offchain.lattice.bgv.keygen` drawing from :func:`seed_stream`."""
    secret, public, _, _ = keygen_with_witness(params, seed_stream(seed))
    return secret, public


def statement(pk: PublicKey) -> tuple[PublicKey, Ciphertext]:
    """(a, 0) and (0, b): the key under which a public key is an encryption, and that encryption."""
    zero = EvalPoly.zeros(pk.params)
    return PublicKey(pk.a, zero), Ciphertext(CoeffPoly.zeros(pk.params), pk.b.intt())


def witness(s: np.ndarray, e: np.ndarray) -> Preimage:
    """(0, s, 0, e): the preimage of (0, b) under (a, 0) for the key pair drawn with s and e."""
    return dataclasses.replace(Preimage.zero(len(s)), v=WidePoly.from_small(s), e1=WidePoly.from_small(e))


def refuse(failures: Sequence[tuple[int, ProofFailed]]) -> None:
    """Raises ProofFailed naming every party whose proof failed (the first failure's check), if any did."""
    if failures:
        first = failures[0][1]
        raise ProofFailed(first.check, first.detail, parties=tuple(j for j, _ in failures)) from first
