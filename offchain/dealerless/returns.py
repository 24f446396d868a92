"""LowGear's pairwise products: each party's additive share of sum_{i != j} x_i y_j, from ciphertexts of the x_i.

Party i's operand x_i is known to the others only as a ciphertext C under
i's own key (an announced share, or its MAC key share from the setup), and
only f C = Enc_i(f x_i) is vouched for by i's proof (f = 2 for TopGear, L
for the diagonal proof: :mod:`offchain.dealerless.announce`); party j's
multiplier y_j is a plaintext only j knows. For each product, party j
returns to every i

    Enc_i(f x_i) * (y_j f^-1 mod r), re-randomised, switched down, flooded, minus a mask r_ji

(:func:`offchain.lattice.bgv.return_product`) and keeps r_ji. Party i adds
the n - 1 returns it gets and decrypts once: sum_j (x_i y_j - r_ji). Its
share of the cross terms is that plus the masks it kept, sum_j r_ij; over
all parties the masks cancel and sum_{i != j} x_i y_j remains. Party i
learns only masked values; the flooding hides y_j in the decryption noise.

All products of one step travel in one message per ordered pair of parties,
so a step is one round whatever the number of products.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from offchain.dealerless.keys import SessionKeys
from offchain.dealerless.messages import MessageKind, ciphertext_message, read_ciphertexts
from offchain.engine.comm import decode
from offchain.engine.session import Session
from offchain.errors import ConfigError
from offchain.field import FieldVec, P
from offchain.lattice import slots
from offchain.lattice.bgv import Ciphertext, PreparedCiphertext, PublicKey, SecretKey, return_levels, return_product
from offchain.lattice.params import RingParams
from offchain.lattice.sampling import RandBytes
from offchain.lattice.slots import Plaintext, encode


@dataclass(frozen=True, eq=False)
class CrossProduct:
    """One product to share: every peer's operand times ``factor``, prepared, and this party's multiplier.

    ``multiplier`` holds this party's N slots y_j; ``operands[i]`` is
    Enc_i(factor x_i), the multiple of i's ciphertext that i's proof vouches
    for (``ProofParams.vouched``); the product uses y_j factor^-1 mod r.
    """

    operands: Mapping[int, PreparedCiphertext]
    multiplier: FieldVec
    factor: int


def return_scale(params: RingParams) -> int:
    """The plaintext scale every return carries: the inverses of the primes the switch drops."""
    levels = return_levels(params)
    return 1 if levels == params.levels else params.switch_factor(levels)


async def cross_terms(ctx: Session, keys: SessionKeys, products: Sequence[CrossProduct]) -> list[FieldVec]:
    """This party's share of sum_{i != j} x_i y_j for each product, slot by slot (one round).

    The multiplication and authentication steps of LowGear (Keller-Pastro-
    Rotaru 2018, Overdrive, triple generation): see the module docstring. The
    caller adds its own diagonal term x_me y_me, which needs no message.
    """
    if ctx.party != keys.party:
        raise ConfigError("these keys belong to another party")
    params = keys.params
    if any(len(p.multiplier) != params.n or set(p.operands) != set(keys.peers) for p in products):
        raise ConfigError(f"each product needs {params.n} slots and an operand from every peer")
    # y_j f^-1 turns the product with Enc_i(f x_i) into x_i y_j; its lift is as small as any plaintext's.
    multipliers = await asyncio.to_thread(lambda: [encode(p.multiplier * pow(p.factor, -1, P)) for p in products])
    # Masks are drawn and summed as plaintext coefficients: uniform coefficients are uniform slots
    # (the encoding is a bijection), and one decoding of decrypted + kept per product replaces n - 1 encodings.
    kept = [FieldVec.zeros(params.n) for _ in products]
    for i in keys.peers:
        # Each peer's returns are sent as soon as they are made: the next peer's do not depend on them.
        returns, masks = await asyncio.to_thread(_returns_for, keys.public[i], [p.operands[i] for p in products],
                                                 multipliers, ctx.randbytes)
        kept = [k + m for k, m in zip(kept, masks, strict=True)]
        await ctx.transport.send(i, ciphertext_message(MessageKind.RETURNS, returns))
    levels, scale, count = return_levels(params), return_scale(params), len(products)

    def read(data: bytes) -> list[Ciphertext]:
        return read_ciphertexts(data, MessageKind.RETURNS, params, count, levels, scale)

    totals: list[Ciphertext] = []
    for j in keys.peers:
        data = await ctx.transport.recv(j)
        totals = await asyncio.to_thread(_add_received, totals, j, read, data)
    return await asyncio.to_thread(_decrypt_all, keys.secret, totals, kept)


def _add_received(totals: list[Ciphertext], party: int, read: Callable[[bytes], list[Ciphertext]],
                  data: bytes) -> list[Ciphertext]:
    """``totals`` plus the returns parsed from one peer's message (its fault if they do not parse)."""
    received = decode(party, read, data)
    return received if not totals else [t + r for t, r in zip(totals, received, strict=True)]


def _returns_for(pk: PublicKey, operands: Sequence[PreparedCiphertext], multipliers: Sequence[Plaintext],
                 randbytes: RandBytes) -> tuple[list[Ciphertext], list[FieldVec]]:
    """The returns to one peer (whose key is ``pk``) and the masks kept (as coefficients), one per product."""
    returns, masks = [], []
    for operand, multiplier in zip(operands, multipliers, strict=True):
        mask = FieldVec.random(pk.params.n, randbytes)
        returns.append(return_product(operand, multiplier, Plaintext(mask), pk, randbytes))
        masks.append(mask)
    return returns, masks


def _decrypt_all(secret: SecretKey, totals: Sequence[Ciphertext], kept: Sequence[FieldVec]) -> list[FieldVec]:
    """The slots of each decrypted sum plus the masks kept for it: this party's shares of the cross terms."""
    return [slots.decode(secret.decrypt(total).coeffs + mask) for total, mask in zip(totals, kept, strict=True)]
