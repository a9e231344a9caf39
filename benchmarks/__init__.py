"""Benchmarks of digitmap-tui: ``python benchmarks/run.py`` prints the figures (see run.py)."""
