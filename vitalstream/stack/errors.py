"""Errors the local stack reports as one clear line (never a traceback)."""


class StackError(RuntimeError):
    """Something the user must fix; the message says what to do."""
