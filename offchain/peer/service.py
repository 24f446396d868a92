"""The preprocessing service (dealer form): deals batches, seals them, commits them on chain.

For a group of recipients (members in party order) the service holds one MAC
key; it seals each recipient's share of that key and each recipient's part
of every batch with HPKE to the recipient's registered key, and commits every
batch on chain with ``PreprocessingLedger.commitBatch``. The peers trust none
of its arithmetic: every batch is sacrifice-checked jointly before use.

Given a state file (offchain.peer.dealer_state) the MAC key and its shares
are kept there, so a restarted service deals under the key the members hold;
without one (the in-process consortium) the key is fresh and lives in memory.

MAC key share wire format (HPKE plaintext): version (1) | party (2) | alpha (32),
sealed with info "mpcc/mac-key/v1" | group id (32) | party (2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from eth_account.signers.local import LocalAccount

from offchain.errors import DecodeError
from offchain.identity import Identity, hpke_open, hpke_seal
from offchain.peer.dealer_state import DealerBinding, DealerKeys, LoadedKeys, load_or_deal
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.delivery import SealedBatch, chain_kind, seal_batch
from offchain.preprocessing.tuples import Needs, TupleKey
from offchain.shares import MacKeyShare
from onchain.deploy import Deployment
from onchain.ledger import TupleKind as ChainKind
from onchain.registry import Member

KEY_WIRE_VERSION = 1
_KEY_DOMAIN = b"mpcc/mac-key/v1"


@dataclass(frozen=True)
class Offer:
    """A committed batch as the service serves it: sealed parts and the tuple key."""

    sealed: SealedBatch
    key: TupleKey
    count: int

    @property
    def batch_id(self) -> bytes:
        return self.sealed.batch_id


def group_id(recipients: Sequence[Member]) -> bytes:
    """Names a recipient group (its ordered accounts) in HPKE contexts."""
    return hashlib.sha256(b"".join(bytes.fromhex(m.account[2:]) for m in recipients)).digest()


def seal_key_share(public_key: bytes, share: MacKeyShare, group: bytes) -> bytes:
    plaintext = bytes([KEY_WIRE_VERSION]) + share.party.to_bytes(2, "big") + share.alpha.to_bytes(32, "big")
    return hpke_seal(public_key, plaintext, _KEY_DOMAIN + group + share.party.to_bytes(2, "big"))


def open_key_share(identity: Identity, sealed: bytes, party: int, group: bytes) -> MacKeyShare:
    """This party's MAC key share; raises if it was sealed for another party or group."""
    plaintext = hpke_open(identity, sealed, _KEY_DOMAIN + group + party.to_bytes(2, "big"))
    if len(plaintext) != 35 or plaintext[0] != KEY_WIRE_VERSION or int.from_bytes(plaintext[1:3], "big") != party:
        raise DecodeError("malformed MAC key share")
    return MacKeyShare(party, int.from_bytes(plaintext[3:], "big"))


class PreprocessingService:
    """Deals, seals and commits batches for one ordered group of members."""

    def __init__(self, deployment: Deployment, account: LocalAccount, recipients: Sequence[Member],
                 state: Path | None = None) -> None:
        """Deals under the key kept in ``state`` for this group (a new one if none is); fresh without."""
        self._dep = deployment
        self._account = account
        self.recipients = tuple(recipients)
        self.group = group_id(self.recipients)
        self.loaded: LoadedKeys | None = None
        if state is None:
            keys = DealerKeys.fresh(len(self.recipients))
        else:
            self.loaded = load_or_deal(state, self.binding(), bytes(account.key))
            keys = self.loaded.keys
        self._dealer = Dealer(len(self.recipients), keys.alpha)
        self.sealed_keys = tuple(seal_key_share(m.hpke_public_key, k, self.group)
                                 for m, k in zip(self.recipients, keys.shares))
        self.offers: list[Offer] = []

    def binding(self) -> DealerBinding:
        """What this service's MAC key is dealt for: deployment, group and service account."""
        manifest = self._dep.manifest
        return DealerBinding(manifest.chain_id, manifest.address("OrgRegistry"),
                             manifest.address("PreprocessingLedger"), self.group,
                             tuple(m.account for m in self.recipients), self._account.address)

    def produce(self, needs: Needs) -> list[Offer]:
        """One committed batch per key of ``needs``."""
        made = []
        for key, count in needs:
            parts = self._dealer.batch(key, count)
            sealed = seal_batch(parts, [m.hpke_public_key for m in self.recipients])
            self._dep.ledger.commit_batch(self._account, sealed.batch_id, ChainKind(chain_kind(key.kind)),
                                          count, sealed.commitment())
            made.append(Offer(sealed, key, count))
        self.offers.extend(made)
        return made


