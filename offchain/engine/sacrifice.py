"""The joint check every party runs on a dealer batch before using it ("sacrifice").

All parties run :func:`accept_batch` on their own part of the same batch. The
challenge is a joint coin tossed after the batch is fixed (commit-then-reveal),
and the batch id is bound into the broadcast transcript so that parties
checking different batches abort. The relations, with t the coin:

* triple (a, b, c) with check triple (f, g, h): open rho = t*a - f and
  sigma = b - g; t*c - h - sigma*f - rho*g - sigma*rho must be 0 [DPSZ12].
* square (a, b) with check square (f, h): open rho = t*a - f;
  t^2*b - h - rho*(t*a + f) must be 0.
* bit b: the pair (b, b) is checked as a square with (f, h), so b^2 = b.
* input mask (linear check of MAC consistency): open u = s + sum_j t^(N-1-j) r_j
  with a uniform check element s; the owner also compares u with its clear
  values.

Truncation pairs are never checked here: nobody deals them, the parties build
them from checked bits (offchain.preprocessing.tuples.pairs_from_bits); a
batch of them fails.

The "must be 0" values are never opened; their MACs are checked against 0.
Any failure of the MAC check (or of the owner's comparison) raises
SacrificeFailed(batch_id, kind): the whole batch is discarded.
"""

from __future__ import annotations

from offchain.engine.coin import expand_scalar, toss
from offchain.engine.mac_check import check_macs
from offchain.engine.opening import open_shares
from offchain.engine.session import Session
from offchain.errors import ConfigError, MacCheckFailed, SacrificeFailed
from offchain.field import FieldVec, P
from offchain.preprocessing.tuples import PartyBatch, TupleKind, TupleSet
from offchain.shares import SharedVec

Opened = list[tuple[FieldVec, FieldVec]]


async def accept_batch(ctx: Session, batch: PartyBatch) -> TupleSet:
    """The batch's tuples if the joint check passes; SacrificeFailed otherwise."""
    if batch.party != ctx.party or batch.n_parties != ctx.n_parties:
        raise ConfigError(f"batch for party {batch.party} of {batch.n_parties} given to "
                          f"party {ctx.party} of {ctx.n_parties}")
    kind = batch.key.kind
    if kind is TupleKind.TRUNC:
        raise SacrificeFailed(batch.batch_id, kind.value, "truncation pairs are built from checked bits, "
                              "never taken from a batch: nobody could check their range")
    ctx.bind(b"sacrifice" + batch.batch_id)
    seed = await toss(ctx)
    if kind is TupleKind.TRIPLE:
        opened = await _triples(ctx, batch, seed)
    elif kind in (TupleKind.SQUARE, TupleKind.BIT):
        opened = await _squares(ctx, batch, seed)
    else:
        opened = await _linear(ctx, batch, seed)
    try:
        await check_macs(ctx, opened, b"sacrifice-check")
    except MacCheckFailed as exc:
        raise SacrificeFailed(batch.batch_id, kind.value, str(exc)) from exc
    clear = batch.clear[:batch.count] if batch.clear is not None else None
    return TupleSet(batch.key, batch.columns, clear)


async def _triples(ctx: Session, batch: PartyBatch, seed: bytes) -> Opened:
    a, b, c = batch.columns
    f, g, h = batch.checks
    t = expand_scalar(seed, b"triple-t")
    rho_sh, sigma_sh = a.scale(t) - f, b - g
    rho, sigma = await open_shares(ctx, [rho_sh.share, sigma_sh.share])
    # Only the MAC shares of the zero value enter the check, so only they are computed:
    # the MAC part of (t*c - h - sigma*f - rho*g).sub_public(sigma*rho).
    zero_mac = ((c.mac * t - h.mac).mul_add(f.mac, -sigma).mul_add(g.mac, -rho)
                .mul_add(sigma, rho * (-ctx.key.alpha)))
    return [(rho, rho_sh.mac), (sigma, sigma_sh.mac), (FieldVec.zeros(len(zero_mac)), zero_mac)]


async def _squares(ctx: Session, batch: PartyBatch, seed: bytes) -> Opened:
    if batch.key.kind is TupleKind.BIT:
        (a,) = batch.columns
        b = a
    else:
        a, b = batch.columns
    f, h = batch.checks
    t = expand_scalar(seed, b"square-t")
    rho_sh = a.scale(t) - f
    (rho,) = await open_shares(ctx, [rho_sh.share])
    zero = b.scale(t * t % P) - h - a.scale(rho * t) - f.scale(rho)
    return [(rho, rho_sh.mac), (FieldVec.zeros(len(zero)), zero.mac)]


async def _linear(ctx: Session, batch: PartyBatch, seed: bytes) -> Opened:
    t = expand_scalar(seed, b"linear-t")
    combos = [_combine(col, chk, t) for col, chk in zip(batch.columns, batch.checks, strict=True)]
    values = await open_shares(ctx, [c.share for c in combos])
    if batch.clear is not None:
        clear, check_clear = batch.clear[:batch.count], batch.clear[batch.count:]
        expected = check_clear[0] + clear.horner(t)
        if values[0][0] != expected % P:
            raise SacrificeFailed(batch.batch_id, batch.key.kind.value,
                                  "the owner's clear masks do not match the shares")
    return [(v, c.mac) for v, c in zip(values, combos, strict=True)]


def _combine(column: SharedVec, check: SharedVec, t: int) -> SharedVec:
    """<s + sum_j t^(N-1-j) r_j> as a one-element shared vector."""
    share = check.share[0] + column.share.horner(t)
    mac = check.mac[0] + column.mac.horner(t)
    return SharedVec(FieldVec.from_ints([share]), FieldVec.from_ints([mac]))
