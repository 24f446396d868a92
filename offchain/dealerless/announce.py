"""The two broadcasts of LowGear where zero-knowledge proofs belong: public keys, and ciphertexts under them.

Every value a party encrypts under its own key and broadcasts goes through
:func:`announce`: its MAC key share once per session, its share a_i of
every batch. Keys go through :func:`exchange_keys`. So the proofs the design
asks for attach in exactly two places:

- :func:`exchange_keys`: a proof that the key pair is well formed, exactly
  (s ternary, e binomial: the noise bound of :mod:`offchain.lattice.noise`
  assumes no slack on the key). The prover needs s and e, which
  :func:`offchain.lattice.bgv.keygen` does not return yet.
- :func:`announce`: a TopGear proof of plaintext knowledge over the
  announced ciphertexts (a batch of U of them per proof), and for the MAC key
  share a proof that its plaintext is constant. The prover needs each
  ciphertext's randomness (v, e0, e1), which
  :func:`offchain.lattice.bgv.encrypt` does not return yet; the verifier
  checks every peer's proof before its ciphertexts are returned, and a failed
  proof aborts naming the sender.

Neither proof exists yet (offchain.lattice.zk is being written). Until then a
party that broadcasts an ill-formed key or ciphertext is not stopped before
the other parties multiply their shares into it and it decrypts the result:
see :mod:`offchain.dealerless.lowgear` for what that allows.

Broadcast is the engine's echo-later broadcast: each message enters every
receiver's transcript, and the parties compare transcripts at the sacrifice's
MAC check, so a party that told different parties different things is
caught there (BroadcastMismatch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from offchain.dealerless.messages import (
    MessageKind,
    ciphertext_message,
    public_key_message,
    read_ciphertexts,
    read_public_key,
)
from offchain.engine.comm import broadcast_all, decode
from offchain.engine.session import Session
from offchain.errors import ConfigError
from offchain.lattice.bgv import Ciphertext, PublicKey, SecretKey, encrypt, keygen
from offchain.lattice.params import RingParams
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext


@dataclass(frozen=True, eq=False)
class SessionKeys:
    """One party's BGV keys for a session and every party's public key (its own at index ``party``)."""

    params: RingParams
    party: int
    secret: SecretKey
    public: tuple[PublicKey, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.party < len(self.public):
            raise ConfigError(f"party {self.party} has no public key among {len(self.public)}")
        if any(pk.params != self.params for pk in self.public) or self.secret.params != self.params:
            raise ConfigError("every key of a session belongs to its ring")

    @property
    def peers(self) -> list[int]:
        return [j for j in range(len(self.public)) if j != self.party]


async def exchange_keys(ctx: Session, params: RingParams) -> SessionKeys:
    """Each party makes its own key pair and broadcasts the public key (LowGear's once-per-session setup).

    The proof that the key is well formed (exact, without slack) is to be
    made before the broadcast and checked on every peer's key after it.
    """
    secret, public = await asyncio.to_thread(keygen, params, ctx.randbytes)
    messages = await broadcast_all(ctx, public_key_message(public))
    keys = [public if j == ctx.party else decode(j, lambda data: read_public_key(data, params), message)
            for j, message in enumerate(messages)]
    return SessionKeys(params, ctx.party, secret, tuple(keys))


async def announce(ctx: Session, keys: SessionKeys, plaintexts: Sequence[Plaintext]) -> dict[int, list[Ciphertext]]:
    """Broadcasts Enc_i(m) for each plaintext m under this party's key; returns every peer's, by party.

    The first step of LowGear's triple generation (KPR18): each party
    broadcasts Enc_i(a_i). Every peer's ciphertexts are checked to be fresh (all
    primes, scale 1) and as many as this party's; a TopGear proof over them
    is what will also make them well formed (see the module docstring).
    """
    if ctx.party != keys.party:
        raise ConfigError("these keys belong to another party")
    mine = await asyncio.to_thread(_encrypt_all, keys.public[keys.party], plaintexts, ctx.randbytes)
    messages = await broadcast_all(ctx, ciphertext_message(MessageKind.ANNOUNCEMENT, mine))
    params, count = keys.params, len(plaintexts)

    def read(data: bytes) -> list[Ciphertext]:
        return read_ciphertexts(data, MessageKind.ANNOUNCEMENT, params, count, params.levels, 1)

    return {j: decode(j, read, messages[j]) for j in keys.peers}


def _encrypt_all(pk: PublicKey, plaintexts: Sequence[Plaintext], randbytes: RandBytes) -> list[Ciphertext]:
    return [encrypt(pk, pt, randbytes) for pt in plaintexts]
