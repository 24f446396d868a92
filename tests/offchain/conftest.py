"""Shared setup of the off-chain tests: the C kernel is built once if a compiler exists."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from offchain import _build_kernel

# Build before offchain.field is imported, since it picks its backend at import.
_build_kernel.build(quiet=True)

# Protocol examples run whole MPC sessions: few examples, no deadline.
settings.register_profile("mpcc", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mpcc")
