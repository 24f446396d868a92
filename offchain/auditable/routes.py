"""How a job of a spec runs and is verified: its route, and the tuples it consumes on that route.

A plain job (``auditable`` unset) runs the analysis of offchain.analytics and
is verified by the audit of record only. An auditable job takes one of three
routes, each chosen for what it costs and how far it can be verified:

    LINEAR   count, sum, mean, histogram, frequency and categorical naive Bayes
             without epsilon: the result is a sum of committed inputs, so AuditTrail
             verifies it on chain with the ecAdd/ecMul precompiles
             (offchain.auditable.linear); no tuple beyond the input masks.
    SUMMARY  a summary revealing the count, without min, max or epsilon: committed
             Beaver triples checked by a public sacrifice, the totals opened and the
             statistics derived exactly in public (offchain.auditable.summary); four
             triples per cell instead of the program's divisions and square roots.
    PROGRAM  every other analysis: the whole program on committed tuples, replayed
             by the auditor (offchain.auditable.program).

LINEAR and SUMMARY are what PROGRAM would verify too, at a fraction of its
tuples and calldata, and LINEAR is the only route a contract checks itself.
"""

from __future__ import annotations

import enum

from offchain.analytics import registry
from offchain.analytics.spec import JobSpec
from offchain.auditable import program, summary
from offchain.auditable.linear import LINEAR_ANALYSES
from offchain.preprocessing.tuples import Needs


class Route(enum.Enum):
    """How a job runs and is verified (see the module docstring)."""

    PLAIN = "plain"
    LINEAR = "linear"
    SUMMARY = "summary"
    PROGRAM = "program"


def route(spec: JobSpec) -> Route:
    """The route of a job of ``spec``."""
    if not spec.auditable:
        return Route.PLAIN
    if spec.params.epsilon is None:
        if spec.analysis in LINEAR_ANALYSES:
            return Route.LINEAR
        if spec.analysis == "summary" and "count" in spec.reveal and not {"min", "max"} & set(spec.reveal):
            return Route.SUMMARY
    return Route.PROGRAM


def needs(spec: JobSpec) -> Needs:
    """The exact tuples a job of ``spec`` consumes on its route."""
    way = route(spec)
    if way is Route.SUMMARY:
        return summary.needs(spec)
    if way is Route.PROGRAM:
        return program.needs(spec)
    return registry.needs(spec)
