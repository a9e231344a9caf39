"""``python -m digitmap_tui``: the same as the ``digitmap`` command."""

from digitmap_tui.cli import main

raise SystemExit(main())
