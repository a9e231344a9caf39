"""Errors that reach the user as one line and exit status 2."""


class InputError(Exception):
    """Bad input from the user: a file, a flag, a value.

    The message is one line that names the file or flag and the problem; the CLI prints it
    as ``digitmap: error: <message>`` and exits with status 2.
    """


class Cancelled(Exception):
    """A run was stopped on request; nothing partial is returned or kept."""
