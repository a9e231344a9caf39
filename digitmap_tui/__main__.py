"""``python -m digitmap_tui``: the same as the ``digitmap`` command."""

from digitmap_tui.cli import main

# The guard matters: embedding workers are spawned processes, which import __main__ again.
if __name__ == "__main__":
    raise SystemExit(main())
