"""Each party's BGV key pair for a session, checked by cut and choose on seeds: exact, but covert (1/K).

The noise bound of :mod:`offchain.lattice.noise` assumes every public key
(a, b = a s + t e) has s ternary and e binomial exactly: a proof with slack
would let s grow to 2^77 and break it. :func:`exchange_keys` gets that
exactness by cut and choose (the covert key generation of MP-SPDZ's
pairwise setup, after the covert SPDZ of Damgard-Keller-Larraia-Pastro-Scholl-Smart 2013):

1. Each party draws K seeds and derives from each a candidate key pair with
   the honest :func:`offchain.lattice.bgv.keygen`, its byte source being
   :func:`seed_stream` of the seed. It broadcasts the K digests
   :func:`candidate_digest` (the party, the index and the public key, hashed).
2. The joint coin (:func:`offchain.engine.coin.toss`), drawn after every
   party's digests are fixed, chooses one index c_i per party
   (:func:`chosen_candidate`).
3. Each party broadcasts its public key c_i and the seeds of its other K - 1
   candidates; it keeps the secret key c_i, whose seed it never reveals.
4. Every party checks every peer: the public key hashes to digest c_i, and
   each opened seed re-derives a key pair whose public key hashes to its
   digest. A failure raises ProofFailed naming every party that failed.

What it proves, and its soundness. SHA-256 binds each party to K public
keys before the coin. Each candidate k != c_i is then shown to be
keygen's output for some seed, hence to have s in {-1, 0, 1}^N and e in
[-21, 21]^N exactly (whatever the seed: a party may grind seeds, but every
seed gives such a key). The key in use is one of the K, chosen by the coin
after the commitment, so a party that committed one ill-formed candidate
uses it with probability 1/K and is otherwise caught and named; two or more
ill-formed candidates are always caught. So the soundness error is 1/K per
party and session (2^-6 for the default K = 64): **covert security**, a
cheater is caught with probability 1 - 1/K, not the 2^-40 of the other
checks. An exact proof with negligible error (a proof that s is ternary
and e binomial without slack, or a key generation under MPC) is not
implemented; until it is, a party willing to be caught with probability
63/64 can use an ill-formed key once in 64 sessions, and then the
flooding of the returns it receives is no longer guaranteed to hide the
honest parties' shares. Raising K costs K key generations per party and
(K - 1)(n - 1) re-derivations to check the peers.

Zero knowledge: the seed of the key in use is never sent; its digest is a
hash of the public key, which is public anyway. The opened candidates are
discarded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from offchain.dealerless.messages import (
    DIGEST_BYTES,
    key_candidates_message,
    key_opening_message,
    read_key_candidates,
    read_key_opening,
)
from offchain.engine.coin import toss
from offchain.engine.comm import broadcast_all, decode
from offchain.engine.session import Session
from offchain.errors import ConfigError, ProofFailed
from offchain.lattice.bgv import PublicKey, SecretKey, keygen
from offchain.lattice.params import RingParams
from offchain.lattice.sampling import RandBytes
from offchain.lattice.wire import public_key_to_bytes

KEY_CANDIDATES = 64
"""K, the candidate key pairs per party: a cheater escapes with probability 1/K = 2^-6."""
SEED_BYTES = DIGEST_BYTES
_SEED_TAG = b"mpcc-lowgear-key-seed-v2"
_CANDIDATE_TAG = b"mpcc-lowgear-key-candidate-v1"
_CHOICE_TAG = b"mpcc-lowgear-key-choice-v1"


@dataclass(frozen=True, eq=False)
class SessionKeys:
    """One party's BGV keys for a session and every party's public key (its own at index ``party``).

    ``seed`` derives the secret key (:func:`candidate`): what a member keeps,
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
    sampler, so it derives the same key pair. (ChaCha20 rather than SHAKE-256:
    a candidate key draws 3 MB, and every member derives its K candidates and
    the K - 1 each peer opens: 5 ms instead of 15 ms each.)
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


def candidate(params: RingParams, seed: bytes) -> tuple[SecretKey, PublicKey]:
    """The key pair a seed derives: :func:`offchain.lattice.bgv.keygen` drawing from :func:`seed_stream`."""
    return keygen(params, seed_stream(seed))


def candidate_digest(party: int, index: int, pk: PublicKey) -> bytes:
    """SHA-256 of a tag, the party (2 bytes), the index (2 bytes) and the public key's wire bytes."""
    head = _CANDIDATE_TAG + party.to_bytes(2, "big") + index.to_bytes(2, "big")
    return hashlib.sha256(head + public_key_to_bytes(pk)).digest()


def chosen_candidate(coin: bytes, party: int, candidates: int) -> int:
    """The index of the candidate ``party`` keeps: 16 bytes of SHAKE-256 of the coin, modulo K (bias < K 2^-128)."""
    stream = hashlib.shake_256(_CHOICE_TAG + party.to_bytes(2, "big") + coin).digest(16)
    return int.from_bytes(stream, "big") % candidates


async def exchange_keys(ctx: Session, params: RingParams, candidates: int = KEY_CANDIDATES) -> SessionKeys:
    """Every party's key pair by cut and choose on seeds (the steps and soundness in the module docstring)."""
    if not 2 <= candidates <= 0xFFFF:
        raise ConfigError(f"cut and choose needs 2..65535 candidate keys, not {candidates}")
    seeds = [ctx.randbytes(SEED_BYTES) for _ in range(candidates)]
    digests = await asyncio.to_thread(_digests, params, ctx.party, seeds)
    committed = await broadcast_all(ctx, key_candidates_message(digests))
    coin = await toss(ctx)
    mine = chosen_candidate(coin, ctx.party, candidates)
    # The candidates were not kept (K of them would hold K keys in memory): the chosen one is derived again.
    secret, public = await asyncio.to_thread(candidate, params, seeds[mine])
    openings = await broadcast_all(ctx, key_opening_message(public, [s for k, s in enumerate(seeds) if k != mine]))
    keys: list[PublicKey] = []
    failures: list[tuple[int, ProofFailed]] = []
    for j in range(ctx.n_parties):
        if j == ctx.party:
            keys.append(public)
            continue
        digests_j = decode(j, lambda data: read_key_candidates(data, candidates), committed[j])
        pk, opened = decode(j, lambda data: read_key_opening(data, params, candidates), openings[j])
        try:
            await asyncio.to_thread(_check_opening, params, j, digests_j, chosen_candidate(coin, j, candidates),
                                    pk, opened)
        except ProofFailed as failure:
            failures.append((j, failure))
        keys.append(pk)
    refuse(failures)
    return SessionKeys(params, ctx.party, secret, tuple(keys), seeds[mine])


def refuse(failures: Sequence[tuple[int, ProofFailed]]) -> None:
    """Raises ProofFailed naming every party whose proof failed (the first failure's check), if any did."""
    if failures:
        first = failures[0][1]
        raise ProofFailed(first.check, first.detail, parties=tuple(j for j, _ in failures)) from first


def _digests(params: RingParams, party: int, seeds: Sequence[bytes]) -> list[bytes]:
    return [candidate_digest(party, k, candidate(params, seed)[1]) for k, seed in enumerate(seeds)]


def _check_opening(params: RingParams, party: int, digests: Sequence[bytes], chosen: int, pk: PublicKey,
                   opened: Sequence[bytes]) -> None:
    """Step 4 for one peer: its key is its candidate ``chosen``, and every other candidate comes from its seed."""
    if not hmac.compare_digest(candidate_digest(party, chosen, pk), digests[chosen]):
        raise ProofFailed("chosen key", f"the public key is not candidate {chosen}, chosen by the coin")
    others = [k for k in range(len(digests)) if k != chosen]
    for k, seed in zip(others, opened, strict=True):
        if not hmac.compare_digest(candidate_digest(party, k, candidate(params, seed)[1]), digests[k]):
            raise ProofFailed("key opening", f"the seed of candidate {k} does not derive the key committed to")
