"""Runs n parties in one process over the in-memory network (tests and benchmarks).

    async def program(ctx: Context) -> FieldVec:
        x = await input_values(ctx, 0, values if ctx.party == 0 else None, 3)
        return await output(ctx, await mul(ctx, x, x))

    needs = estimate.input_values(0, 3) + estimate.mul(3)
    results = asyncio.run(run_local(3, program, needs=needs))

Each party first receives its part of freshly dealt batches covering
``needs`` and (unless ``sacrifice=False``) checks them jointly; then it runs
``program`` on its own :class:`Context`. Results (or the exception a party
raised) come back in party order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from harness.dealing import seeded_dealer, unchecked
from harness.faults import Tamper, network
from offchain.engine.context import Context
from offchain.engine.sacrifice import accept_batch
from offchain.net.memory import MemoryTransport, run_parties
from offchain.preprocessing.dealer import Dealer
from offchain.preprocessing.source import MemoryTupleSource
from offchain.preprocessing.tuples import Needs, PartyBatch
from offchain.shares import MacKeyShare

T = TypeVar("T")
Program = Callable[[Context], Awaitable[T]]


def deal_needs(dealer: Dealer, needs: Needs) -> list[list[PartyBatch]]:
    """One batch per key of ``needs``; result[i] is the list of party i's batches."""
    per_party: list[list[PartyBatch]] = [[] for _ in range(dealer.n_parties)]
    for key, count in needs:
        for i, batch in enumerate(dealer.batch(key, count)):
            per_party[i].append(batch)
    return per_party


async def prepare_context(transport: MemoryTransport, key: MacKeyShare,
                          batches: list[PartyBatch], *, sacrifice: bool = True) -> Context:
    """A party's context whose source holds its (checked) batches."""
    source = MemoryTupleSource()
    ctx = Context(transport, key, source)
    for batch in batches:
        source.add(await accept_batch(ctx, batch) if sacrifice else unchecked(batch))
    return ctx


async def run_local(n_parties: int, program: Program[T], *, needs: Needs,
                    sacrifice: bool = True, seed: bytes | None = None,
                    timeout: float = 60.0, tamper: Tamper | None = None
                    ) -> list[T | BaseException]:
    """Deals ``needs``, then runs ``program`` as every party; see the module docstring.

    ``seed`` makes the dealer reproducible (known-answer tests only);
    ``tamper`` plays a malicious sender (harness.faults).
    """
    if seed is None:
        dealer, keys = Dealer.create(n_parties)
    else:
        dealer, keys = seeded_dealer(n_parties, seed)
    batches = deal_needs(dealer, needs)
    net = network(n_parties, tamper, timeout)

    def party(i: int) -> Callable[[MemoryTransport], Awaitable[T]]:
        async def run(transport: MemoryTransport) -> T:
            ctx = await prepare_context(transport, keys[i], batches[i], sacrifice=sacrifice)
            return await program(ctx)
        return run

    return await run_parties(net, [party(i) for i in range(n_parties)])
