"""A member running modified code: ``mpcc`` that forges its row count and lies about results.

Run as ``python cheating_peer.py COUNT peer run --config ...``: the peer inputs COUNT
as its row count (and its true sum) to every count, sum or mean job, and posts every
count of a result it computed plus one (a histogram's, say: its inputs are honest, so
the job gets as far as the results). Everything else is the real ``mpcc`` entry point.
Only the tests start it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from mpcc.peer.member import MemberPeer
from offchain.analytics import stats
from offchain.field import FieldVec

FORGED_COUNT = int(sys.argv.pop(1))
honest_summary = stats.local_summary
honest_post = MemberPeer.post_result


def forged_summary(values: Sequence[float], f: int) -> FieldVec:
    _, total = honest_summary(values, f).to_signed_ints()
    return FieldVec.from_ints([FORGED_COUNT, total])


async def lying_post(self: MemberPeer, job_id: int, result: dict[str, str]) -> None:
    lie = {k: str(int(v) + 1) if k.startswith("count[") else v for k, v in result.items()}
    await honest_post(self, job_id, lie)


stats.local_summary = forged_summary
MemberPeer.post_result = lying_post  # type: ignore[method-assign]

from mpcc.cli.main import main  # noqa: E402  (after the patch, as a modified build would be)

sys.exit(main())
