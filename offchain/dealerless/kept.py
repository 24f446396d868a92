"""A LowGear setup kept by each member between sessions: its decryption key sealed in its home, the rest public.

A fresh setup (:func:`offchain.dealerless.lowgear.setup`: every member's key
pair and MAC key share's ciphertext, each with its proof) takes seconds
for three members on the development machine. Each member keeps what it ended with (:class:`KeptSetup`):

- the setup's id, a hash of the session's transcript when the setup ended,
  the same at every honest member (every key, ciphertext and proof was
  broadcast into it);
- its own key's seed and its MAC key share, sealed with HPKE to its own
  registered key (``info`` binds the group, the party and the setup id), as
  the member's MAC key share is: the decryption key is never written in the
  clear and never leaves the member;
- every member's public key and every peer's MAC key ciphertext (the f C the
  proofs vouched for), as received and checked in that setup: public data.

The next session (:func:`resume`) starts with every member broadcasting the
id of the setup it kept (or zeros). If every member offers the same id, each
restores its own (:func:`restore`: the seed re-derives the secret key, whose
public key must be the one kept, and the sealed MAC key share must be the
member's current one) and the session goes on with those keys, checked once
in the setup that made them. Otherwise (a member lost its file, restored it
from another group, or drew a new MAC key share) the members run a fresh
setup and keep that. A member that keeps a doctored file gains nothing: its
peers use the public keys and ciphertexts they checked themselves, and a
secret key that does not match its public key only garbles its own shares,
which the sacrifice catches.

Byte format, version 1, integers big-endian::

    0x01 | setup id (32) | group (32) | party (2) | parties (2)
         | sealed length (4) | sealed (seed 32 | alpha 32, HPKE)
         | parties times: public key length (4) | public key
         | parties times: MAC ciphertext length (4) | ciphertext (empty at the member's own index)
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from offchain.dealerless.keys import SEED_BYTES, SessionKeys, key_pair
from offchain.dealerless.lowgear import LowGear, bind_ring, fresh_setup
from offchain.dealerless.messages import frame, read_framed
from offchain.engine.comm import broadcast_all
from offchain.engine.session import Session
from offchain.errors import ConfigError, DecodeError
from offchain.identity import Identity, hpke_open, hpke_seal
from offchain.lattice.bgv import Ciphertext
from offchain.lattice.params import RingParams
from offchain.lattice.wire import ciphertext_from_bytes, ciphertext_to_bytes, public_key_from_bytes, public_key_to_bytes

KEPT_VERSION = 1
_ID_TAG = b"mpcc-lowgear-setup-id-v1"
_SEAL_TAG = b"mpcc/lowgear-key/v1"
_NO_SETUP = bytes(32)


@dataclass(frozen=True, eq=False)
class KeptSetup:
    """What a member keeps of a LowGear setup (see the module docstring)."""

    setup_id: bytes
    group: bytes
    party: int
    sealed: bytes = b""
    public: tuple[bytes, ...] = ()
    mac: tuple[bytes, ...] = ()

    def to_bytes(self) -> bytes:
        head = (bytes([KEPT_VERSION]) + self.setup_id + self.group + self.party.to_bytes(2, "big")
                + len(self.public).to_bytes(2, "big"))
        return head + frame([self.sealed, *self.public, *self.mac])

    @classmethod
    def from_bytes(cls, data: bytes) -> KeptSetup:
        """The kept setup; DecodeError naming what is wrong if the bytes are not one."""
        view = memoryview(data)
        if len(view) < 73 or view[0] != KEPT_VERSION:
            raise DecodeError(f"not a kept LowGear setup of version {KEPT_VERSION}")
        setup_id, group = bytes(view[1:33]), bytes(view[33:65])
        party, parties = int.from_bytes(view[65:67], "big"), int.from_bytes(view[67:69], "big")
        if not 0 <= party < parties:
            raise DecodeError(f"a kept LowGear setup of party {party} among {parties}")
        items = [bytes(item) for item in read_framed(view, 69, 1 + 2 * parties, "a kept LowGear setup")]
        return cls(setup_id, group, party, items[0], tuple(items[1:1 + parties]), tuple(items[1 + parties:]))


def keep(ctx: Session, lowgear: LowGear, mac: dict[int, Ciphertext], group: bytes, hpke_public: bytes) -> KeptSetup:
    """What this member keeps of the setup that just ended in ``ctx`` (before any batch is made in it)."""
    keys = lowgear.keys
    if len(keys.seed) != SEED_BYTES:
        raise ConfigError("these session keys carry no seed to keep")
    setup_id = hashlib.sha256(_ID_TAG + ctx.transcript_digest()).digest()
    secret = keys.seed + ctx.key.alpha.to_bytes(32, "big")
    sealed = hpke_seal(hpke_public, secret, _seal_info(group, keys.party, setup_id))
    return KeptSetup(setup_id, group, keys.party, sealed,
                     tuple(public_key_to_bytes(pk) for pk in keys.public),
                     tuple(b"" if j == keys.party else ciphertext_to_bytes(mac[j]) for j in range(len(keys.public))))


def restore(kept: KeptSetup, identity: Identity, params: RingParams, ctx: Session, group: bytes) -> LowGear:
    """The LowGear state of a kept setup, for this member in ``ctx``; ConfigError saying why it cannot serve."""
    if kept.group != group or kept.party != ctx.party or len(kept.public) != ctx.n_parties:
        raise ConfigError(f"it was kept by party {kept.party} of another group of {len(kept.public)}")
    try:
        secret = hpke_open(identity, kept.sealed, _seal_info(group, kept.party, kept.setup_id))
    except Exception as err:
        raise ConfigError(f"its sealed key does not open with this organisation's key ({type(err).__name__})") from err
    seed, alpha = secret[:SEED_BYTES], int.from_bytes(secret[SEED_BYTES:], "big")
    if len(secret) != SEED_BYTES + 32 or not hmac.compare_digest(alpha.to_bytes(32, "big"),
                                                                  ctx.key.alpha.to_bytes(32, "big")):
        raise ConfigError("it holds another MAC key share than this member's")
    try:
        public = tuple(public_key_from_bytes(pk, params) for pk in kept.public)
        mac = {j: ciphertext_from_bytes(ct, params) for j, ct in enumerate(kept.mac) if j != ctx.party}
    except DecodeError as err:
        raise ConfigError(f"it is for another ring ({err})") from err
    own_secret, own_public = key_pair(params, seed)
    if not hmac.compare_digest(public_key_to_bytes(own_public), kept.public[ctx.party]):
        raise ConfigError("its key seed does not derive the public key kept")
    keys = SessionKeys(params, ctx.party, own_secret, public, seed)
    return LowGear(keys, {j: ct.prepared() for j, ct in mac.items()})


async def resume(ctx: Session, params: RingParams, kept: tuple[KeptSetup, LowGear] | None
                 ) -> tuple[LowGear, dict[int, Ciphertext] | None]:
    """The session's LowGear state: the kept setup if every member offers the same, else a fresh setup.

    Returns the state and, after a fresh setup, every peer's MAC key
    ciphertext (for :func:`keep`); None when the kept setup was resumed.
    """
    bind_ring(ctx, params)
    offer = kept[0].setup_id if kept is not None else _NO_SETUP
    offers = await broadcast_all(ctx, offer)
    if kept is not None and all(hmac.compare_digest(o, offer) for o in offers):
        return kept[1], None
    return await fresh_setup(ctx, params)


def _seal_info(group: bytes, party: int, setup_id: bytes) -> bytes:
    return _SEAL_TAG + group + party.to_bytes(2, "big") + setup_id
