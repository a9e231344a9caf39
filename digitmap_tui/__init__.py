"""digitmap-tui: a keyboard-first terminal explorer for 2-D embeddings of image datasets."""

__version__ = "0.1.0"
