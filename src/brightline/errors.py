"""The errors Brightline raises, and only those a caller handles differently.

::

    BrightlineError
    ├── InvalidInputError        bad files, fields or requests; carries every Problem found
    │   ├── UnknownReferenceError   a node, service, operation or region that does not exist
    │   └── TooLargeError           an upload over its size limit (HTTP 413)
    ├── NotFoundError            a stored object that does not exist
    ├── AuthenticationError      no credential, or an unknown, revoked or badly signed one
    ├── AccessDeniedError        the principal's roles do not allow the action
    ├── RateLimitedError         too many requests from one credential
    ├── ConflictError            a state change that the current state does not allow
    ├── LedgerIntegrityError     the log or a proof does not verify
    ├── StoreUnavailableError    the database cannot be reached or used
    └── StorageError             a file cannot be written or read back (disk full, read-only…)

The CLI maps them to exit codes and the API to status codes, each in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where it is and what is wrong.

    ``where`` is a file name, a line or a YAML path (``catalog.yaml: services[2].id``),
    or a field of a request; it is empty when the input has no name.
    """

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class BrightlineError(Exception):
    """Root of every error Brightline raises on purpose."""


class InvalidInputError(BrightlineError):
    """Input that cannot be accepted; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UnknownReferenceError(InvalidInputError):
    """A request or record names a node, service, operation or region that does not exist.

    Fail closed: this is never treated as an allow.
    """


class TooLargeError(InvalidInputError):
    """An upload (a public report's document) over its size limit."""


class NotFoundError(BrightlineError):
    """A stored object (restriction, case, entry…) that does not exist."""


class ConflictError(BrightlineError):
    """A change that the current state forbids (an illegal transition, a second approval…)."""


class LedgerIntegrityError(BrightlineError):
    """The ledger, a checkpoint or a proof does not verify."""


class StoreUnavailableError(BrightlineError):
    """The database cannot be reached or used (wrong URL, server down, locked, full…)."""


class StorageError(BrightlineError):
    """A file cannot be written (or read back): the disk is full, the file system is
    read-only, permission is denied… ``path`` names the file and ``cause`` says why in the
    system's words; the message is one line. Made by :mod:`brightline.files`, which leaves
    the file as it was."""

    def __init__(self, path: object, cause: str, *, verb: str = "write") -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"cannot {verb} {self.path}: {cause}")


class AuthenticationError(BrightlineError):
    """No credential, or one that is unknown, revoked, expired or badly signed."""


class AccessDeniedError(BrightlineError):
    """The principal's roles do not allow the action (or not on this case)."""


class RateLimitedError(BrightlineError):
    """Too many requests from one credential."""
