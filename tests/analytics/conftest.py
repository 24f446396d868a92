"""Shared setup of the analytics tests: the C field kernel is built once if a compiler exists."""

from __future__ import annotations

from offchain import _build_kernel

_build_kernel.build(quiet=True)
