"""The preprocessing service (dealer form): deals batches, seals them, commits them on chain.

For a group of recipients (members in party order) the service holds one MAC
key; it seals each recipient's share of that key and each recipient's part
of every batch with HPKE to the recipient's registered key, and commits every
batch on chain with ``PreprocessingLedger.commitBatch``. The peers trust none
of its arithmetic: every batch is sacrifice-checked jointly before use.

Given a state file (mpcc.service.dealer_state) the MAC key and its shares
are kept there, so a restarted service deals under the key the members hold;
without one (the in-process consortium) the key is fresh and lives in memory.

Each member's MAC key share is sealed to it by offchain.preprocessing.keyshare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from mpcc.service.batch_store import BatchStore
from mpcc.service.dealer_state import DealerBinding, DealerKeys, LoadedKeys, load_or_deal
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.delivery import SealedBatch, chain_kind, seal_batch
from offchain.preprocessing.keyshare import group_id, seal_key_share
from offchain.preprocessing.tuples import Needs, TupleKey, batch_counts
from onchain.deploy import Deployment
from onchain.ledger import TupleKind as ChainKind
from onchain.registry import Member


@dataclass(frozen=True)
class Offer:
    """A committed batch as the service serves it: sealed parts and the tuple key."""

    sealed: SealedBatch
    key: TupleKey
    count: int

    @property
    def batch_id(self) -> bytes:
        return self.sealed.batch_id


class PreprocessingService:
    """Deals, seals and commits batches for one ordered group of members."""

    def __init__(self, deployment: Deployment, account: LocalAccount, recipients: Sequence[Member],
                 state: Path | None = None, kept: Path | None = None) -> None:
        """Deals under the key kept in ``state`` for this group (a new one if none is); fresh without.

        With ``kept`` (a folder) every batch is kept there before it is committed (mpcc.service.batch_store).
        """
        self._dep = deployment
        self._account = account
        self.recipients = tuple(recipients)
        self.group = group_id([m.account for m in self.recipients])
        self.loaded: LoadedKeys | None = None
        if state is None:
            keys = DealerKeys.fresh(len(self.recipients))
        else:
            self.loaded = load_or_deal(state, self.binding(), bytes(account.key))
            keys = self.loaded.keys
        self._dealer = Dealer(len(self.recipients), keys.alpha)
        self.sealed_keys = tuple(seal_key_share(m.hpke_public_key, k, self.group)
                                 for m, k in zip(self.recipients, keys.shares, strict=True))
        self.store = BatchStore(kept, self.group) if kept is not None else None

    @property
    def address(self) -> str:
        """The account the service commits its batches from."""
        return str(self._account.address)

    def binding(self) -> DealerBinding:
        """What this service's MAC key is dealt for: deployment, group and service account."""
        manifest = self._dep.manifest
        return DealerBinding(manifest.chain_id, manifest.address("OrgRegistry"),
                             manifest.address("PreprocessingLedger"), self.group,
                             tuple(m.account for m in self.recipients), self._account.address)

    def produce(self, needs: Needs) -> list[Offer]:
        """Committed batches for ``needs``: per key, as many as keep each under max_batch_count."""
        return [self._deal(key, count) for key, total in needs for count in batch_counts(key.kind, total)]

    def _deal(self, key: TupleKey, count: int) -> Offer:
        parts = self._dealer.batch(key, count)
        sealed = seal_batch(parts, [m.hpke_public_key for m in self.recipients])
        del parts  # Only the sealed parts are kept: the service's memory stays about one batch.
        if self.store is not None:
            self.store.put(sealed)
        self._dep.ledger.commit_batch(self._account, sealed.batch_id, ChainKind(chain_kind(key.kind)),
                                      count, sealed.commitment())
        return Offer(sealed, key, count)
