"""A member running modified code: ``mpcc`` that publishes a forged transcript of its openings.

Run as ``python forging_peer.py peer run --config ...``: every transcript this peer publishes
on AuditTrail (an auditable summary's shares of its opened values) ends with bytes no
honest run produces, before the peer posts its (honest) result. The job finalises, since
every result is equal, and the public audit fails at the replay of that transcript.
Everything else is the real ``mpcc`` entry point. Only the tests start it.
"""

from __future__ import annotations

import sys

from offchain.auditable.tracked import Transcript

honest_bytes = Transcript.to_bytes


def forged_bytes(self: Transcript) -> bytes:
    return honest_bytes(self) + b"forged transcript"


Transcript.to_bytes = forged_bytes  # type: ignore[method-assign]

from mpcc.cli.main import main  # noqa: E402  (after the patch, as a modified build would be)

sys.exit(main())
