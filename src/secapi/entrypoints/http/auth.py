"""Who is calling: the bearer key becomes a `Principal` through dishka, per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dishka import Provider, Scope, provide
from litestar import Request

from secapi.domain.errors import NotAuthenticated, PermissionDenied
from secapi.domain.model import Principal
from secapi.domain.rate_limits import QuotaLedger
from secapi.domain.services.authentication import Authenticator
from secapi.domain.services.quotas import QuotaService
from secapi.domain.services.suppressions import SuppressionService
from secapi.domain.suppressions import ActiveSuppressions
from secapi.entrypoints.http.rate_limit_headers import LEDGER_KEY

SCAN_ENDPOINTS = "/api/v1/scan/"
"""Requests here may consume a scan: their headers show the scan windows, noted with the request check."""

USAGE_ENDPOINT = "/api/v1/usage"
"""Counted in the per-minute window when there is room, never refused: a limited caller must see why."""


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    """A principal known to be an administrator."""

    principal: Principal


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; `NotAuthenticated` for other schemes."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise NotAuthenticated("use 'Authorization: Bearer <key>'; other schemes are not supported")
    return token.strip() or None


class HttpAuthProvider(Provider):
    """Provides the caller (and the admin caller) of each HTTP request, and the caller's suppressions."""

    @provide(scope=Scope.REQUEST)
    async def principal(
        self,
        request: Request,  # type: ignore[type-arg]
        authenticator: Authenticator,
        quotas: QuotaService,
        ledger: QuotaLedger,
    ) -> Principal:
        principal = await authenticator.authenticate(bearer_token(request.headers.get("authorization")))
        # The usage and rate-limit header middlewares read these after the response is produced.
        request.scope["state"]["principal"] = principal
        request.scope["state"][LEDGER_KEY] = ledger
        endpoint = request.scope.get("path_template") or request.url.path
        await quotas.check_request(
            principal,
            endpoint,
            peek_scans=endpoint.startswith(SCAN_ENDPOINTS),
            refuse=endpoint.rstrip("/") != USAGE_ENDPOINT,
        )
        return principal

    @provide(scope=Scope.REQUEST)
    def admin(self, principal: Principal) -> AdminPrincipal:
        if not principal.user.is_admin:
            raise PermissionDenied("this endpoint is for administrators; your API key is not an admin key")
        return AdminPrincipal(principal)

    @provide(scope=Scope.REQUEST)
    async def suppressions(self, principal: Principal, service: SuppressionService) -> ActiveSuppressions:
        """The caller's ignore rules and VEX statements in force now: applied to every scan answer it gets."""
        return await service.active_for(principal)


def principal_of(scope_state: dict[str, Any]) -> Principal | None:
    """The principal stored on a request's state, if it authenticated."""
    value = scope_state.get("principal")
    return value if isinstance(value, Principal) else None
