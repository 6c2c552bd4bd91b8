"""The exception hierarchy of the core.

Every error carries a message that is safe to show a user (no SQL, no paths outside the
project, no stack traces). ``api/errors.py`` maps each class to one HTTP status.
"""

from __future__ import annotations

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
