"""Benchmarks, run by hand (not in CI): ``python bench/sfu.py --help``."""
