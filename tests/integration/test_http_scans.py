"""Reading scans: tenant isolation and keyset pagination, on PostgreSQL."""

from __future__ import annotations

from httpx import AsyncClient
from litestar import Litestar

from secapi.domain.scan_inputs import encode_scan_input

from support.seed import add_scans, bearer, create_user


async def test_a_tenant_reads_its_own_scan(client: AsyncClient, app: Litestar) -> None:
    user, key = await create_user(app, "a@example.com")
    (scan,) = await add_scans(app, user, 1)
    response = await client.get(f"/api/v1/scans/{scan.id}", headers=bearer(key))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(scan.id)
    assert body["status"] == "completed"
    assert body["input"] == encode_scan_input(scan.input_data)
    assert body["result"] == {"vulnerabilities": []}


async def test_another_tenants_scan_is_404(client: AsyncClient, app: Litestar) -> None:
    owner, _ = await create_user(app, "owner@example.com")
    _, intruder_key = await create_user(app, "intruder@example.com")
    (scan,) = await add_scans(app, owner, 1)
    response = await client.get(f"/api/v1/scans/{scan.id}", headers=bearer(intruder_key))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == f"no scan with id {scan.id} exists for this account"


async def test_malformed_scan_id_is_a_problem_not_a_500(client: AsyncClient, app: Litestar) -> None:
    _, key = await create_user(app, "a@example.com")
    response = await client.get("/api/v1/scans/not-a-uuid", headers=bearer(key))
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == "application/problem+json"


async def test_pages_are_newest_first_and_cursor_walks_all_without_overlap(client: AsyncClient, app: Litestar) -> None:
    user, key = await create_user(app, "a@example.com")
    other, _ = await create_user(app, "b@example.com")
    scans = await add_scans(app, user, 25)
    await add_scans(app, other, 5)
    expected = [str(s.id) for s in reversed(scans)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 10}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/api/v1/scans", params=params, headers=bearer(key))
        assert response.status_code == 200
        body = response.json()
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == expected


async def test_scans_with_the_same_timestamp_are_ordered_by_id_and_not_lost(client: AsyncClient, app: Litestar) -> None:
    from datetime import UTC, datetime

    user, key = await create_user(app, "a@example.com")
    same = datetime(2026, 5, 1, tzinfo=UTC)
    scans = []
    for _ in range(6):
        scans += await add_scans(app, user, 1, start=same)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/v1/scans", params=params, headers=bearer(key))).json()
        seen += [item["id"] for item in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert sorted(seen) == sorted(str(s.id) for s in scans)
    assert seen == sorted(seen, reverse=True)


async def test_bad_limit_and_cursor_are_problems(client: AsyncClient, app: Litestar) -> None:
    _, key = await create_user(app, "a@example.com")
    for params in ({"limit": 0}, {"limit": 1000}, {"cursor": "garbage!"}, {"limit": "ten"}):
        response = await client.get("/api/v1/scans", params=params, headers=bearer(key))
        assert response.status_code in (400, 422), params
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["invalid-params"], params
