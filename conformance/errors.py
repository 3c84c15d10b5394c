"""Errors the user caused: shown as one line, never as a traceback."""


class QconformError(Exception):
    """A problem with qconform's input (options, paths, fixtures, environment)."""
