"""A member's share of the MAC key, sealed to it by the dealer, and the group it is dealt for.

A dealer holds one MAC key alpha for an ordered group of recipients and seals
each recipient's share alpha_i with HPKE to the recipient's registered key.
Wire format of the HPKE plaintext, version 1: version (1) | party (2) | alpha_i
(32, big-endian), sealed with info "mpcc/mac-key/v1" | group id (32) | party
(2), so that a share opens only as that party's share for that group.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from offchain.errors import DecodeError
from offchain.identity import Identity, hpke_open, hpke_seal
from offchain.shares import MacKeyShare

KEY_WIRE_VERSION = 1
_KEY_DOMAIN = b"mpcc/mac-key/v1"


def group_id(accounts: Sequence[str]) -> bytes:
    """Names a recipient group (its accounts, 0x-hex, in party order) in HPKE contexts."""
    return hashlib.sha256(b"".join(bytes.fromhex(a.removeprefix("0x")) for a in accounts)).digest()


def seal_key_share(public_key: bytes, share: MacKeyShare, group: bytes) -> bytes:
    """``share`` sealed to the recipient's HPKE ``public_key`` for ``group``."""
    plaintext = bytes([KEY_WIRE_VERSION]) + share.party.to_bytes(2, "big") + share.alpha.to_bytes(32, "big")
    return hpke_seal(public_key, plaintext, _KEY_DOMAIN + group + share.party.to_bytes(2, "big"))


def open_key_share(identity: Identity, sealed: bytes, party: int, group: bytes) -> MacKeyShare:
    """This party's MAC key share; raises if it was sealed for another party or group."""
    plaintext = hpke_open(identity, sealed, _KEY_DOMAIN + group + party.to_bytes(2, "big"))
    if len(plaintext) != 35 or plaintext[0] != KEY_WIRE_VERSION or int.from_bytes(plaintext[1:3], "big") != party:
        raise DecodeError("malformed MAC key share")
    return MacKeyShare(party, int.from_bytes(plaintext[3:], "big"))
