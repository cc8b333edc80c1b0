"""Benchmarks: run each as `python -m bench.NAME` from the repository root (see bench/harness.py).

Kept empty on purpose: peer virtualenvs run `python -m bench.phase_probe` and `python -m bench.gptme_cancel_bench
--worker` with only the standard library and their own packages.
"""
