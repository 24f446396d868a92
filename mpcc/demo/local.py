"""A whole consortium in one process: the chain in process, peers as asyncio tasks.

Used by the demo and the end-to-end tests. The peers talk over the in-memory
transport (which still serialises every message) and share the one chain;
everything else is what separate processes do: each peer has its own keys,
its own SQLite tuple cache and its own data files.

Its tuples come from the members themselves (``made_by_members``: LowGear
among the peers, mpcc.peer.making, no service at all) or from a
preprocessing service in the same process (the dealer, a development mode).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpcc import analyst, orgs
from mpcc.analyst import propose_job
from mpcc.consortium import admit, bootstrap_members, fund_from_test_account
from mpcc.peer.making import MadeBatch, fresh_key, make_tuples, start_session
from mpcc.peer.member import JobOutcome, MemberPeer
from mpcc.service.dealing import Offer, PreprocessingService
from offchain.analytics.sources import DEFAULT_DATASET
from offchain.analytics.spec import JobSpec
from offchain.auditable import routes
from offchain.dealerless import LowGear
from offchain.engine.session import Session
from offchain.errors import ConfigError
from offchain.lattice.params import RingParams
from offchain.net.memory import MemoryNetwork, run_parties
from offchain.net.transport import Transport
from offchain.preprocessing.cache import TupleCache
from offchain.preprocessing.keyshare import open_key_share
from offchain.preprocessing.tuples import Needs
from offchain.shares import MacKeyShare
from onchain.chain import Chain
from onchain.deploy import Deployment, deploy
from onchain.embedded import in_memory_chain
from onchain.jobs import Deadlines

Step = Callable[[MemberPeer, Any, MacKeyShare], Awaitable[Any]]
#: Seconds a member waits for another's message while the members make tuples in one process: one
#: member's key proof or square roots hold the shared loop for several seconds at a time.
MAKE_TIMEOUT_S = 600.0


@dataclass
class LocalConsortium:
    """Deployment, member peers (in party order) and, in dealer mode, the preprocessing service."""

    dep: Deployment
    peers: list[MemberPeer]
    service: PreprocessingService | None
    keys: list[MacKeyShare]
    offers: list[analyst.Offer] = field(default_factory=list)
    ring: RingParams | None = None  # The members' BGV ring (production's unless a test picks a small one).
    lowgears: dict[int, LowGear] = field(default_factory=dict)  # Each member's session, once set up.

    @classmethod
    def create(cls, members: Sequence[orgs.Org], data: Sequence[dict[str, Path]], quorum: int = 2,
               chain: Chain | None = None, cache_dir: Path | None = None,
               state: Path | None = None, *, made_by_members: bool = False) -> LocalConsortium:
        """Deploy, bootstrap the first member, admit the others by vote; start the service in dealer mode.

        Each peer's tuple cache is ``tuples.sqlite`` in its home, or ``peer-<i>.sqlite``
        in ``cache_dir``. The service keeps its MAC key in the dealer state file
        ``state`` if given, else in memory only. With ``made_by_members`` there is
        no service: each member draws its own MAC key share.
        """
        chain = chain or in_memory_chain()
        operator, service_account = chain.test_account(0), chain.test_account(1)
        for org in members:
            fund_from_test_account(chain, org.account.address)
        dep = deploy(chain, operator, quorum)
        bootstrap_members(dep, operator, [members[0].public], None if made_by_members else service_account.address,
                          seal=True)
        for i in range(1, len(members)):
            admit(dep, members[i], members[:i])
        caches = [cache_dir / f"peer-{i}.sqlite" if cache_dir else org.home / "tuples.sqlite"
                  for i, org in enumerate(members)]
        peers = [MemberPeer(org, dep, TupleCache(path), {DEFAULT_DATASET: dict(binding)})
                 for org, binding, path in zip(members, data, caches, strict=True)]
        if made_by_members:
            return cls(dep, peers, None, [fresh_key(i) for i in range(len(peers))])
        service = PreprocessingService(dep, service_account, dep.registry.active_members(), state)
        keys = [open_key_share(p.org.identity, service.sealed_keys[i], i, service.group)
                for i, p in enumerate(peers)]
        return cls(dep, peers, service, keys)

    def run_all(self, step: Step, network: MemoryNetwork | None = None, timeout: float = 60.0) -> list[Any]:
        """Run ``step`` as every peer at once, over ``network`` (a fresh one by default); results
        (or exceptions) in party order."""
        network = network or MemoryNetwork(len(self.peers), timeout=timeout)
        programs = [lambda t, p=p, k=k: step(p, t, k) for p, k in zip(self.peers, self.keys, strict=True)]
        return asyncio.run(run_parties(network, programs))

    def supply(self, needs: Needs) -> list[analyst.Offer]:
        """Batches covering ``needs``, checked and stored by every peer: made by the members, or dealt."""
        made: Sequence[analyst.Offer] = self.make(needs) if self.service is None else self.feed(needs)
        return list(made)

    def make(self, needs: Needs) -> list[MadeBatch]:
        """The members make, check, commit, attest and store batches covering ``needs`` (no service)."""
        async def step(peer: MemberPeer, transport: Transport, key: MacKeyShare) -> list[MadeBatch]:
            ctx = Session(transport, key)
            lowgear = self.lowgears.get(key.party) or await start_session(ctx, self.ring)
            self.lowgears[key.party] = lowgear
            return await make_tuples(peer, ctx, lowgear, needs)

        results = self.run_all(step, timeout=MAKE_TIMEOUT_S)
        _raise_first(results)
        made: list[MadeBatch] = results[0]
        self.offers.extend(made)
        return made

    def feed(self, needs: Needs) -> list[Offer]:
        """Deal, seal and commit batches for ``needs``; every peer checks and stores them (dealer mode)."""
        if self.service is None:
            raise ConfigError("this consortium makes its own tuples: it has no preprocessing service to deal them")
        made = self.service.produce(needs)
        for offer in made:
            async def accept(peer: MemberPeer, transport: Transport, key: MacKeyShare, o: Offer = offer) -> None:
                await peer.accept_delivery(transport, key, o.sealed.delivery(key.party))

            _raise_first(self.run_all(accept))
        self.offers.extend(made)
        return made

    def propose(self, spec: JobSpec, proposer: int = 0) -> int:
        """Propose ``spec`` as peer ``proposer`` and reserve its tuples."""
        return propose_job(self.dep, self.peers[proposer].org.account, spec, routes.needs(spec), self.offers,
                           Deadlines.from_now(self.dep.chain.now()))

    def run_job(self, job_id: int, network: MemoryNetwork | None = None) -> list[JobOutcome | BaseException]:
        return self.run_all(lambda peer, t, k: peer.run_job(t, k, job_id), network)

    def close(self) -> None:
        for peer in self.peers:
            peer.close()


def _raise_first(results: list[Any]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result
