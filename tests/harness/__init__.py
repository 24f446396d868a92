"""Test harnesses that production never imports: n parties in one process, seeded dealers, twins.

Importable as ``harness`` from the tests (pytest's ``pythonpath``) and from
the benchmarks (which put ``tests/`` on ``sys.path``).
"""
