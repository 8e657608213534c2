"""``vitalstream bench``: open-loop load generator, load scenarios, component and end-to-end benchmarks.

Benchmarks are measurements, never tests (design §11): every figure is printed next to a
ceiling measured in the same run, written to ``tests/bench/results.json`` and ``BENCHMARKS.md``.
"""

CHOICES = ("gateway", "stream", "sink", "restart", "e2e", "scenarios", "backfill", "api", "all")
"""What ``vitalstream bench`` can run (``all``: each of the others in turn)."""
