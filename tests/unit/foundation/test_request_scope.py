"""The request's dishka scope is entered only when the request asks for something, once, and always closed."""

from __future__ import annotations

from typing import Any

import pytest

from secapi.entrypoints.http.request_scope import STATE_KEY, _with_request_scope


class _Scope:
    def __init__(self) -> None:
        self.resolved: list[Any] = []
        self.closed_with: list[BaseException | None] = []

    async def get(self, dependency: Any, component: Any = None) -> str:
        self.resolved.append(dependency)
        return f"a {dependency.__name__}"

    async def close(self, exception: BaseException | None = None) -> None:
        self.closed_with.append(exception)


class _AppContainer:
    def __init__(self) -> None:
        self.entered: list[_Scope] = []

    def __call__(self, context: dict[Any, Any], scope: Any) -> _Scope:
        entered = _Scope()
        self.entered.append(entered)
        return entered


async def _call(app: Any) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_: Any) -> None:
        return None

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", "state": {}}
    await app(scope, receive, send)


async def test_a_request_that_asks_nothing_enters_no_scope() -> None:
    container = _AppContainer()

    async def live(scope: Any, receive: Any, send: Any) -> None:
        assert STATE_KEY in scope["state"]

    await _call(_with_request_scope(live, container))  # type: ignore[arg-type]
    assert container.entered == []


async def test_asking_twice_enters_one_scope_and_closes_it() -> None:
    container = _AppContainer()

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        lazy = scope["state"][STATE_KEY]
        assert await lazy.get(int) == "a int"
        assert await lazy.get(str) == "a str"

    await _call(_with_request_scope(handler, container))  # type: ignore[arg-type]
    assert len(container.entered) == 1
    assert container.entered[0].resolved == [int, str]
    assert container.entered[0].closed_with == [None]


async def test_a_failing_request_closes_its_scope_with_the_error() -> None:
    container = _AppContainer()
    boom = RuntimeError("boom")

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        await scope["state"][STATE_KEY].get(int)
        raise boom

    with pytest.raises(RuntimeError, match="boom"):
        await _call(_with_request_scope(handler, container))  # type: ignore[arg-type]
    assert container.entered[0].closed_with == [boom]
