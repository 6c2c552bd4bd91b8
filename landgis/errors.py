"""The exception hierarchy of the core.

Every error carries a message that is safe to show a user (no SQL, no paths outside the
project, no stack traces). ``api/errors.py`` maps each class to one HTTP status.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class LandgisError(Exception):
    """Base class: ``message`` is safe to show; ``details`` is structured, also safe."""

    code = "landgis_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(LandgisError):
    code = "not_found"


class InvalidInput(LandgisError):
    """A value, file or request the caller sent is wrong; the message says where."""

    code = "invalid_input"


class Conflict(LandgisError):
    """The request contradicts the current state (illegal transition, duplicate key)."""

    code = "conflict"


class PreconditionFailed(LandgisError):
    """The caller's copy is stale (an ``If-Match`` that no longer matches)."""

    code = "precondition_failed"


class PermissionDenied(LandgisError):
    code = "permission_denied"


class NotAuthenticated(LandgisError):
    code = "not_authenticated"


class DatabaseUnavailable(LandgisError):
    code = "database_unavailable"


class ClusterError(LandgisError):
    """The project-local PostgreSQL cluster could not be installed, created or started."""

    code = "cluster_error"


class ExitCode(IntEnum):
    """Exit codes scripts can rely on (documented in docs/cli.md): the command line's, and a
    load job's over HTTP."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    INVALID_INPUT = 3
    NOT_FOUND = 4
    CONFLICT = 5
    DATABASE = 6
    PARTIAL = 7


_EXIT_FOR = (
    (InvalidInput, ExitCode.INVALID_INPUT),
    (NotFound, ExitCode.NOT_FOUND),
    (Conflict, ExitCode.CONFLICT),
    (DatabaseUnavailable, ExitCode.DATABASE),
    (ClusterError, ExitCode.DATABASE),
)


def exit_code_for(exc: LandgisError) -> ExitCode:
    """The documented exit code of a core error."""
    return next((c for cls, c in _EXIT_FOR if isinstance(exc, cls)), ExitCode.FAILURE)
