"""Hash commitments and joint coin tossing by commit-then-reveal.

Commitment to ``data``: sha256("mpcc-commit-v1" || nonce || data) with a
fresh 32-byte nonce; the opening is nonce || data. A joint coin: every party
commits to 32 random bytes, all commitments are broadcast, then all
openings; the coin is sha256 of the parties' values in party order. No
party can bias it after seeing the others' commitments, and a party that
opens something else is caught (CommitmentMismatch).

``toss`` runs on a live session (the MAC check's and the sacrifice's coins);
``toss_recorded`` runs on any evaluator, through its broadcasts, so that a
program that needs a coin is recorded with it and replays it (an auditable
run's tape holds the commitments and openings, and the replay recomputes
the same coin from them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from offchain.engine.comm import broadcast_all
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.session import Session
from offchain.errors import CommitmentMismatch
from offchain.field import P, RandBytes

NONCE_BYTES = 32
SEED_BYTES = 32
_COMMIT_TAG = b"mpcc-commit-v1"
_COIN_TAG = b"mpcc-coin-v1"
_EXPAND_TAG = b"mpcc-expand-v1"


def commit(data: bytes, randbytes: RandBytes) -> tuple[bytes, bytes]:
    """(commitment, opening) for ``data``."""
    opening = randbytes(NONCE_BYTES) + data
    return hashlib.sha256(_COMMIT_TAG + opening).digest(), opening


def open_commitment(party: int, commitment: bytes, opening: bytes, what: str) -> bytes:
    """The committed data if ``opening`` matches ``commitment``; else CommitmentMismatch."""
    digest = hashlib.sha256(_COMMIT_TAG + opening).digest()
    if len(opening) < NONCE_BYTES or not hmac.compare_digest(digest, commitment):
        raise CommitmentMismatch(party, what)
    return opening[NONCE_BYTES:]


async def toss(ctx: Session) -> bytes:
    """A 32-byte joint random seed (two rounds; both recorded as broadcasts)."""
    mine, opening = commit(ctx.randbytes(SEED_BYTES), ctx.randbytes)
    commitments = await broadcast_all(ctx, mine)
    openings = await broadcast_all(ctx, opening)
    return _coin([open_commitment(j, commitments[j], openings[j], "coin share")
                  for j in range(ctx.n_parties)])


async def toss_recorded(ctx: Evaluator[S]) -> bytes:
    """A 32-byte joint random seed through ``ctx``'s broadcasts (2 n one-way steps, no tuples).

    A replay (no party) commits nothing: it reads every commitment and opening from its tape.
    """
    live = ctx.party is not None
    mine = commit(secrets.token_bytes(SEED_BYTES), secrets.token_bytes) if live else None
    commitments = [await ctx.broadcast_from(j, mine[0] if mine and j == ctx.party else None)
                   for j in range(ctx.n_parties)]
    openings = [await ctx.broadcast_from(j, mine[1] if mine and j == ctx.party else None)
                for j in range(ctx.n_parties)]
    return _coin([open_commitment(j, commitments[j], openings[j], "coin share")
                  for j in range(ctx.n_parties)])


def _coin(values: list[bytes]) -> bytes:
    """sha256 of the parties' opened values in party order, each checked to be SEED_BYTES long."""
    for j, value in enumerate(values):
        if len(value) != SEED_BYTES:
            raise CommitmentMismatch(j, "coin share of the wrong length")
    return hashlib.sha256(_COIN_TAG + b"".join(values)).digest()


def expand_scalar(seed: bytes, label: bytes) -> int:
    """A field element derived from a joint seed for one use (``label``).

    64 bytes of SHAKE-256 reduced modulo P: statistically uniform (bias < 2^-250).
    """
    stream = hashlib.shake_256(_EXPAND_TAG + label + seed).digest(64)
    return int.from_bytes(stream, "big") % P
