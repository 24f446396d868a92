"""The batched MAC check with commit-then-open, a la [DPSZ12] / [DKLPSS13].

For opened values v_j (public, j = 0..N-1) and this party's MAC shares m_ij:

1. coin-toss a seed after all v_j are fixed; expand it to a field element t
   and use the coefficients h_j = t^(N-1-j) (computed by Horner's rule: one
   product per element, no coefficient vector is built);
2. a = sum_j h_j v_j; s_i = sum_j h_j m_ij - alpha_i * a;
3. broadcast a commitment to s_i together with the broadcast-transcript
   digest; abort with BroadcastMismatch if digests differ;
4. open the commitments; abort with MacCheckFailed unless sum_i s_i = 0;
5. confirm: every party sends "ok" and waits for everyone's "ok", so an honest
   party never returns while another honest party aborted (it would have
   closed its channel or stayed silent instead of confirming).

A value whose claimed public value is 0 but which was never opened (the
sacrifice's check values) is checked the same way with v_j = 0.

Soundness: errors fixed before t is drawn pass only if a nonzero polynomial
of degree < N vanishes at t (probability < N/P, below 2^-220 for any
realistic N) or if the cheater guesses the honest parties' key shares (1/P).
"""

from __future__ import annotations

from collections.abc import Sequence

from offchain.engine.coin import commit, expand_scalar, open_commitment, toss
from offchain.engine.comm import compare_digests, exchange, expect
from offchain.engine.evaluator import Evaluator, S
from offchain.engine.session import Session
from offchain.errors import MacCheckFailed
from offchain.field import FieldVec, P

_OK = b"mpcc-ok-v1"
_S_BYTES = 32


async def check_macs(ctx: Session, opened: Sequence[tuple[FieldVec, FieldVec]],
                     label: bytes = b"mac-check") -> None:
    """Raises MacCheckFailed unless every (value, MAC share) pair is consistent for all parties.

    Also raises BroadcastMismatch if the broadcast transcripts differ, and the
    other ProtocolAbort errors if a peer misbehaves; returns None on success.
    """
    t = expand_scalar(await toss(ctx), label)
    a, m = 0, 0
    for values, macs in opened:
        # Horner over zeros (the sacrifice's claimed zeros) is a power of t.
        a = values.horner(t, a) if values.limbs.any() else a * pow(t, len(values), P) % P
        m = macs.horner(t, m)
    s = (m - ctx.key.alpha * a) % P
    commitment, opening = commit(s.to_bytes(_S_BYTES, "big"), ctx.randbytes)
    digest = ctx.transcript_digest()
    round3 = await exchange(ctx, commitment + digest)
    compare_digests(ctx, [m[32:] for m in round3])
    openings = await exchange(ctx, opening)
    total = 0
    for j, message in enumerate(openings):
        data = open_commitment(j, round3[j][:32], message, "MAC check share")
        total += int.from_bytes(data, "big")
    if total % P != 0:
        raise MacCheckFailed(f"MAC check failed at party {ctx.party}: some opened value "
                             "or MAC share was altered")
    await confirm(ctx)


async def confirm(ctx: Session) -> None:
    """One round in which every party states it passed; aborts if any peer does not."""
    for j, message in enumerate(await exchange(ctx, _OK)):
        expect(j, message, _OK, "confirmation")


async def check_pending(ctx: Evaluator[S]) -> None:
    """Checks every value ``ctx`` opened since its last check (:meth:`Evaluator.check_pending`).

    A live party runs :func:`check_macs` on them; a replay has nothing to check
    (its values come from a run that checked them).
    """
    await ctx.check_pending()
