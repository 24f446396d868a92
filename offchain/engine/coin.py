"""Hash commitments and joint coin tossing by commit-then-reveal.

Commitment to ``data``: sha256("mpcc-commit-v1" || nonce || data) with a
fresh 32-byte nonce; the opening is nonce || data. A joint coin: every party
commits to 32 random bytes, all commitments are broadcast, then all
openings; the coin is sha256 of the parties' values in party order. No
party can bias it after seeing the others' commitments, and a party that
opens something else is caught (CommitmentMismatch).
"""

from __future__ import annotations

import hashlib
import hmac

from offchain.engine.comm import broadcast_all
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
    values = [open_commitment(j, commitments[j], openings[j], "coin share")
              for j in range(ctx.n_parties)]
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
