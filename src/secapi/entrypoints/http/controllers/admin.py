"""Administration: users, keys and tiers. Every route needs an admin key."""

from __future__ import annotations

from uuid import UUID

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody

from secapi.domain.services.accounts import AccountService
from secapi.entrypoints.http.auth import AdminPrincipal
from secapi.entrypoints.http.media_types import json_only
from secapi.entrypoints.http.openapi import ADMIN, JSON_BODY, ApiOperation, OptionalBodyOperation, problem_responses
from secapi.entrypoints.http.schemas import (
    ApiKeyView,
    CreatedUserView,
    CreateKeyRequest,
    CreateUserRequest,
    IssuedKeyView,
    SetTierRequest,
    UserView,
)


class AdminController(Controller):
    """`/api/v1/admin`: create users, issue and revoke keys, change tiers."""

    path = "/admin"
    tags = ["admin"]
    opt = json_only

    @post(
        "/users",
        operation_id="CreateUser",
        summary="Create a user and their first API key",
        operation_class=ApiOperation,
        responses=problem_responses(*JSON_BODY, *ADMIN, 409, 422),
    )
    @inject
    async def create_user(
        self, data: JSONBody[CreateUserRequest], admin: FromDishka[AdminPrincipal], accounts: FromDishka[AccountService]
    ) -> CreatedUserView:
        user, issued = await accounts.create_user(data.email, data.tier, is_admin=data.is_admin)
        return CreatedUserView(user=UserView.of(user), api_key=issued.secret, key=ApiKeyView.of(issued.record))

    @get(
        "/users/{user_id:uuid}",
        operation_id="GetUser",
        summary="One user",
        operation_class=ApiOperation,
        responses=problem_responses(*ADMIN, 404),
    )
    @inject
    async def get_user(
        self, user_id: FromPath[UUID], admin: FromDishka[AdminPrincipal], accounts: FromDishka[AccountService]
    ) -> UserView:
        return UserView.of(await accounts.get_user(user_id))

    @put(
        "/users/{user_id:uuid}/tier",
        operation_id="SetUserTier",
        summary="Change a user's tier",
        operation_class=ApiOperation,
        responses=problem_responses(*JSON_BODY, *ADMIN, 404),
    )
    @inject
    async def set_tier(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[SetTierRequest],
        admin: FromDishka[AdminPrincipal],
        accounts: FromDishka[AccountService],
    ) -> UserView:
        return UserView.of(await accounts.set_tier(user_id, data.tier))

    @get(
        "/users/{user_id:uuid}/keys",
        operation_id="ListUserKeys",
        summary="A user's API keys (records only)",
        operation_class=ApiOperation,
        responses=problem_responses(*ADMIN, 404),
    )
    @inject
    async def list_keys(
        self, user_id: FromPath[UUID], admin: FromDishka[AdminPrincipal], accounts: FromDishka[AccountService]
    ) -> list[ApiKeyView]:
        return [ApiKeyView.of(key) for key in await accounts.list_keys(user_id)]

    @post(
        "/users/{user_id:uuid}/keys",
        operation_id="IssueKey",
        summary="Issue a new API key (shown once)",
        operation_class=OptionalBodyOperation,
        responses=problem_responses(*JSON_BODY, *ADMIN, 404, 409),
    )
    @inject
    async def issue_key(
        self,
        user_id: FromPath[UUID],
        admin: FromDishka[AdminPrincipal],
        accounts: FromDishka[AccountService],
        data: JSONBody[CreateKeyRequest | None] = None,
    ) -> IssuedKeyView:
        return IssuedKeyView.of(await accounts.issue_key(user_id, name=data.name if data else None))

    @delete(
        "/keys/{key_id:uuid}",
        operation_id="RevokeKey",
        summary="Revoke an API key",
        status_code=200,
        operation_class=ApiOperation,
        responses=problem_responses(*ADMIN, 404),
    )
    @inject
    async def revoke_key(
        self, key_id: FromPath[UUID], admin: FromDishka[AdminPrincipal], accounts: FromDishka[AccountService]
    ) -> ApiKeyView:
        return ApiKeyView.of(await accounts.revoke_key(key_id))
