"""Textual widgets and screens of the explorer (the only modules besides app.py that import Textual)."""
