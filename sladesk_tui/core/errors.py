"""Errors every layer raises and the command line turns into one line and exit 2."""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user or a file: shown as one line, exit status 2.

    `where` is "FILE:LINE" (or "FILE") when the input came from a file.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where

    def __str__(self) -> str:
        msg = super().__str__()
        return f"{self.where}: {msg}" if self.where else msg


class Refused(InputError):
    """A rule refused the request (self-review, non-lead, stopped clock...)."""
