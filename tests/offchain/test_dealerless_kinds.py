"""Bits and input masks from LowGear among 3 parties: the sacrifice passes, the values are right, cheaters are caught.

The oracle is the reconstruction of every party's shares with the global MAC
key (:func:`dealerless_testkit.opened`). Cheaters are played by the in-memory
network, which rewrites one message in flight.
"""
# ruff: noqa: S101 - pytest asserts.

from __future__ import annotations

from dataclasses import dataclass

import pytest
from dealerless_testkit import PARAMS, keys_for, opened, run_after_setup

from offchain.dealerless.kinds import bit_batch, input_mask_batch
from offchain.dealerless.lowgear import LowGear
from offchain.dealerless.messages import MessageKind, ciphertext_message, read_ciphertexts, unpack
from offchain.dealerless.returns import return_scale
from offchain.engine.sacrifice import accept_batch
from offchain.engine.session import Session
from offchain.errors import DecodeError, MacCheckFailed, SacrificeFailed
from offchain.field import FieldVec, P
from offchain.lattice.bgv import return_levels
from offchain.lattice.slots import encode
from offchain.net.memory import MemoryNetwork
from offchain.preprocessing.tuples import PartyBatch, TupleKind, TupleSet

N_PARTIES = 3


@dataclass
class Made:
    batch: PartyBatch
    checked: TupleSet


async def bits(ctx: Session, lowgear: LowGear) -> Made:
    batch = await bit_batch(ctx, lowgear)
    return Made(batch, await accept_batch(ctx, batch))


async def masks(ctx: Session, lowgear: LowGear) -> list[Made]:
    made = []
    for owner in (0, 2):
        batch = await input_mask_batch(ctx, lowgear, owner)
        made.append(Made(batch, await accept_batch(ctx, batch)))
    return made


def successes(results: list[object]) -> list[object]:
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def test_square_roots_are_the_small_root_inverted() -> None:
    a = FieldVec.from_ints([1, 2, P - 3, 12345678901234567890])
    inverse = (a * a).inverse_square_roots()
    assert inverse is not None and set((a * inverse).to_ints()) <= {1, P - 1}
    assert all(pow(v, -1, P) <= (P - 1) // 2 for v in inverse.to_ints())
    assert FieldVec.from_ints([4, 5]).inverse_square_roots() is None  # 5 generates the group: no square.


def test_bits_pass_the_sacrifice_and_are_bits() -> None:
    runs = [r for r in successes(run_after_setup(N_PARTIES, bits)) if isinstance(r, Made)]
    keys = keys_for(N_PARTIES)
    batches = [r.batch for r in runs]
    assert len({b.batch_id for b in batches}) == 1 and batches[0].key.kind is TupleKind.BIT
    assert len({b.count for b in batches}) == 1 and batches[0].count == PARAMS.n // 2  # No a = 0 here.
    values = opened([r.checked.columns[0] for r in runs], keys).to_ints()
    assert set(values) <= {0, 1} and 4 <= sum(values) <= len(values) - 4  # About half are 1.
    f, h = (opened([b.checks[k] for b in batches], keys) for k in range(2))
    assert h == f * f


def test_masks_pass_the_sacrifice_and_only_the_owner_knows_them() -> None:
    runs = [r for r in successes(run_after_setup(N_PARTIES, masks)) if isinstance(r, list)]
    keys = keys_for(N_PARTIES)
    for index, owner in enumerate((0, 2)):
        made = [r[index] for r in runs]
        assert len({m.batch.batch_id for m in made}) == 1 and made[0].batch.key.owner == owner
        assert [m.batch.clear is not None for m in made] == [i == owner for i in range(N_PARTIES)]
        clear = made[owner].checked.clear
        assert clear is not None and len(clear) == PARAMS.n - 1
        assert opened([m.checked.columns[0] for m in made], keys) == clear
        # The others' shares are the owner's uniform deals, not zeros.
        assert all(len(set(m.checked.columns[0].share.to_ints())) == PARAMS.n - 1 for m in made)
    assert runs[0][0].batch.batch_id != runs[0][1].batch.batch_id


class Rewriting(MemoryNetwork):
    """Party ``cheater`` changes its first message to each peer that ``matches``, with ``change``."""

    def __init__(self, cheater: int) -> None:
        super().__init__(N_PARTIES, timeout=120)
        self.cheater, self.changed = cheater, set[int]()

    def matches(self, payload: bytes) -> bool:
        raise NotImplementedError

    def change(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def deliver(self, frm: int, to: int, payload: bytes) -> None:
        if frm == self.cheater and to not in self.changed and self.matches(payload):
            payload = self.change(payload)
            self.changed.add(to)
        super().deliver(frm, to, payload)


class WrongSquareShare(Rewriting):
    """The cheater opens its share of a^2 plus 1 in one slot (the opening is the only vector of N / 2 elements)."""

    def matches(self, payload: bytes) -> bool:
        return payload[:1] == b"\x01" and len(payload) == 1 + 32 * (PARAMS.n // 2)

    def change(self, payload: bytes) -> bytes:
        vec = FieldVec.from_bytes(payload)
        return FieldVec.concat([vec[:3], vec[3:4] + 1, vec[4:]]).to_bytes()


class WrongReturn(Rewriting):
    """The cheater adds 1 to slot 9 of the first ciphertext of its first returns of ``count`` ciphertexts.

    Input masks: the only returns after the setup, one ciphertext (a MAC).
    Bits: the square batch's first returns are (a a, MAC of a), so slot 9 of a^2 is off.
    """

    def __init__(self, cheater: int, count: int) -> None:
        super().__init__(cheater)
        self.count = count

    def matches(self, payload: bytes) -> bool:
        try:
            unpack(payload, MessageKind.RETURNS, self.count)
        except DecodeError:
            return False
        return True

    def change(self, payload: bytes) -> bytes:
        cts = read_ciphertexts(payload, MessageKind.RETURNS, PARAMS, self.count, return_levels(PARAMS),
                               return_scale(PARAMS))
        unit = encode(FieldVec.from_ints([int(k == 9) for k in range(PARAMS.n)]))
        return ciphertext_message(MessageKind.RETURNS, [cts[0] + unit, *cts[1:]])


def test_a_wrong_opened_square_fails_the_mac_check_everywhere() -> None:
    network = WrongSquareShare(cheater=1)
    results = run_after_setup(N_PARTIES, bits, network)
    assert network.changed and all(isinstance(r, MacCheckFailed) for r in results), results


@pytest.mark.parametrize("cheater", [0, 1])
def test_a_wrong_mac_return_fails_the_sacrifice_everywhere(cheater: int) -> None:
    network = WrongReturn(cheater, 1)
    results = run_after_setup(N_PARTIES, masks, network)
    assert network.changed
    assert all(isinstance(r, SacrificeFailed) and r.kind == "input_mask" for r in results), results


def test_a_wrong_square_product_fails_the_bit_sacrifice_everywhere() -> None:
    """a^2 + delta is a non-square (no root: caught at once) or the root of no a (b is no bit: the sacrifice)."""
    network = WrongReturn(cheater=2, count=2)
    results = run_after_setup(N_PARTIES, bits, network)
    assert network.changed
    assert all(isinstance(r, SacrificeFailed) and r.kind == "bit" for r in results), results
