"""The one exception type the CLI turns into an exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every `chaton` command."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2


class ChatonError(Exception):
    """An error meant for the operator: a message and the exit code it leads to."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class BadInput(ChatonError):
    """The operator's input (files, flags) is wrong: exit code 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.BAD_INPUT)
