"""Benchmarks of one user's sync on the local stack (``python -m bench.run``); not part of the test suite."""
