"""Domain exceptions. `entrypoints/http/problems.py` maps each to one RFC 9457 response."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises on purpose; `str()` is a human sentence."""


class NotAuthenticated(DomainError):
    """The request carries no usable API key."""


class PermissionDenied(DomainError):
    """The caller is authenticated but may not do this."""


class NotFound(DomainError):
    """A resource does not exist or belongs to another tenant (the two are indistinguishable)."""


class ScanNotFound(NotFound):
    """No scan with this id belongs to the caller."""


class UserNotFound(NotFound):
    """No user with this id or email."""


class ApiKeyNotFound(NotFound):
    """No API key with this id."""


class Conflict(DomainError):
    """The request conflicts with existing state (e.g. a duplicate email)."""


class InvalidInput(DomainError):
    """Input the domain can name as wrong, with the field it concerns."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DependencyUnavailable(DomainError):
    """A backing service (database, Redis, registry) cannot be reached right now."""


class VulnDbEmpty(DependencyUnavailable):
    """No advisories are loaded: any scan would answer "clean" without having looked."""

    def __init__(self) -> None:
        super().__init__(
            "the vulnerability database holds no advisories, so no scan can be trusted yet; "
            "an operator must load them (`secapi vulndb import PATH...`)"
        )
