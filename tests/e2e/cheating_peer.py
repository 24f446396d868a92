"""A member running modified code: ``mpcc`` whose count/sum/mean input is a forged row count.

Run as ``python cheating_peer.py COUNT peer run --config ...``: the peer inputs COUNT
as its row count (and its true sum) to every count, sum or mean job; everything else
is the real ``mpcc`` entry point. Only the tests start it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from offchain.analytics import stats
from offchain.field import FieldVec

FORGED_COUNT = int(sys.argv.pop(1))
honest_summary = stats.local_summary


def forged_summary(values: Sequence[float], f: int) -> FieldVec:
    _, total = honest_summary(values, f).to_signed_ints()
    return FieldVec.from_ints([FORGED_COUNT, total])


stats.local_summary = forged_summary

from mpcc.cli.main import main  # noqa: E402  (after the patch, as a modified build would be)

sys.exit(main())
