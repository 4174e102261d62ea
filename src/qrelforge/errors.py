"""One error family: every failure a user can cause says where, what was expected and what was found.

>>> from qrelforge import InputFormatError
>>> str(InputFormatError("qrels.txt", 3, "an integer grade", "'high'"))
"qrels.txt:3: expected an integer grade; got 'high'"
"""

from __future__ import annotations

import signal
from pathlib import Path


class QrelforgeError(Exception):
    """Base of every error qrelforge raises on purpose."""


class InputFormatError(QrelforgeError):
    """A file (or one line of it) is missing or not in the expected format."""

    def __init__(self, path: str | Path, line: int | None, expected: str, got: str) -> None:
        self.path, self.line, self.expected, self.got = str(path), line, expected, got
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: expected {expected}; got {got}")

    def __reduce__(
        self,
    ) -> tuple[type, tuple[str, int | None, str, str]]:  # pickles (a worker's error reaches the driver)
        return InputFormatError, (self.path, self.line, self.expected, self.got)


class ConfigError(QrelforgeError):
    """An option or combination of options cannot work."""


class TeacherError(QrelforgeError):
    """A teacher's server cannot be used: every request of a batch failed (it is down, or unreachable)."""


class JudgeError(QrelforgeError):
    """A judge broke its contract: it did not answer the pairs it was given, in order."""


class StoreError(QrelforgeError):
    """A judgment store refused a write that would store a judge's answer for a pair twice."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT (Ctrl-C) or SIGTERM. Its message says what was saved and how to resume; the command
    line prints it as one line and exits with 128 + the signal's number (130, 143)."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
