"""Errors meant for users: one or a few plain sentences, and an exit code."""

from __future__ import annotations


class UserError(Exception):
    """Bad input (exit code 2 by default) or an invalid project / failed run (exit code 1)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
