"""Benchmarks: figures for docs/benchmarks.md, run by hand (`python -m tests.bench.<name>`).

Speed is never asserted; `test_bench_smoke.py` only checks that the harness still runs and
that everything it appended was stored.
"""
