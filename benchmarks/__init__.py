"""tlspipe benchmarks: tlspipe against the stdlib ``ssl`` module, in one process, in memory.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` for a smoke run, ``--json FILE``
for machine-readable output.  See ``benchmarks/PROFILE.md`` for measured numbers and profiles.
This is not a test suite: nothing here asserts a speed.
"""
