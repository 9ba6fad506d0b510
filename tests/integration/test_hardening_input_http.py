"""Bad input over HTTP on real PostgreSQL and Redis: a 4xx problem that names what is wrong, never a 500.

Invalid UTF-8 in a JSON body, NUL characters in anything that reaches PostgreSQL, unknown paths under
/schema; a refused request costs no scan quota.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import traceback
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from httpx import AsyncClient, Response
from litestar import Litestar

from secapi.domain import api_keys
from secapi.domain.errors import Conflict
from secapi.domain.model import ApiKey, Scan, ScanStatus, ScanType
from secapi.domain.packages import Package
from secapi.domain.ports import ApiKeyRepository, ScanRepository
from secapi.domain.scan_inputs import ArchiveImageInput
from secapi.entrypoints.vulndb import import_sample

from support.results import scan_result
from support.seed import bearer, container_of, create_user


def _problem(response: Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return dict(body)


@pytest.fixture
async def admin_key(app: Litestar, client: AsyncClient) -> str:
    await import_sample(container_of(app))
    _, key = await create_user(app, "admin@example.com", admin=True)
    return key


async def _scans_this_hour(client: AsyncClient, key: str) -> int:
    usage = (await client.get("/api/v1/usage", headers=bearer(key))).json()
    return int(next(w["used"] for w in usage["windows"] if w["name"] == "hour"))


INVALID_UTF8 = [
    ("POST", "/api/v1/scan/dependencies", b'{"filename":"requirements.txt","content":"\xff\xfe"}'),
    ("POST", "/api/v1/scan/dependencies", b'{"filename":"requirements.txt","content":"flask==2.2.4 \xe2\x82"}'),
    ("POST", "/api/v1/scan/docker", b'{"image":"nginx\xe2\x82"}'),
    ("PUT", "/api/v1/account/notifications", b'{"url":"https://hooks.example.com/\xc3(","secret":"0123456789abcdef"}'),
    ("POST", "/api/v1/admin/users", b'{"email":"a\xc3@example.com"}'),
    ("POST", "/api/v1/admin/users", b'{"em\xffail":"a@example.com"}'),
]


@pytest.mark.parametrize(("method", "path", "body"), INVALID_UTF8)
async def test_invalid_utf8_in_a_json_string_is_a_400_naming_the_byte(
    client: AsyncClient, admin_key: str, method: str, path: str, body: bytes
) -> None:
    headers = {**bearer(admin_key), "Content-Type": "application/json"}
    problem = _problem(await client.request(method, path, content=body, headers=headers), 400)
    bad = next(byte for byte in body if byte >= 0x80)
    assert "not valid UTF-8" in str(problem["detail"])
    assert f"(0x{bad:02x})" in str(problem["detail"])
    assert problem["invalid-params"] == [{"name": "body", "reason": problem["detail"], "in": "body"}]
    assert await _scans_this_hour(client, admin_key) == 0


@pytest.mark.parametrize("path", ["/schema/nope", "/schema/%2e%2e/x", "/schema/nope.json", "/schema/a/b"])
async def test_an_unknown_path_under_schema_is_a_404_problem(client: AsyncClient, path: str) -> None:
    problem = _problem(await client.get(path), 404)
    assert str(problem["detail"]).startswith("there is no resource at /schema/")


async def test_the_docs_themselves_are_still_served(client: AsyncClient) -> None:
    for path in ("/schema", "/schema/swagger", "/schema/openapi.json"):
        assert (await client.get(path)).status_code == 200, path


async def test_a_dotted_schema_path_sent_raw_is_a_404_problem(app: Litestar) -> None:
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/schema/../x",
        "raw_path": b"/schema/../x",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    start = sent[0]
    assert start["status"] == 404
    assert (b"content-type", b"application/problem+json") in list(start["headers"])  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "payload",
    [
        {"filename": "requirements-\u0000.txt", "content": "flask==2.2.4\n"},
        {"filename": "go.mod", "content": "module x\n", "files": [{"filename": "go\u0000.sum", "content": ""}]},
    ],
)
async def test_a_nul_in_a_lockfile_name_is_a_422_that_costs_no_quota(
    client: AsyncClient, admin_key: str, payload: dict[str, object]
) -> None:
    response = await client.post("/api/v1/scan/dependencies", json=payload, headers=bearer(admin_key))
    problem = _problem(response, 422)
    field = "filename" if "\u0000" in str(payload["filename"]) else "files"
    assert problem["invalid-params"] == [{"name": field, "reason": problem["detail"]}]
    assert "NUL character" in str(problem["detail"])
    assert await _scans_this_hour(client, admin_key) == 0


NUL_LOCKFILES = {
    "package-lock.json": json.dumps(
        {"lockfileVersion": 3, "packages": {"": {}, "node_modules/left\u0000pad": {"version": "1.3.0"}}}
    ),
    "yarn.lock": 'left\u0000pad@^1.3.0:\n  version "1.3.0"\n',
    "go.mod": "module example.com/x\n\ngo 1.22\n\nrequire example.com/a v1.0.0\u0000\n",
    "Gemfile.lock": "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack\u0000 (2.2.3)\n\nPLATFORMS\n  ruby\n",
    "composer.lock": json.dumps({"packages": [{"name": "monolog/mono\u0000log", "version": "2.9.1"}]}),
    "Pipfile.lock": json.dumps({"default": {"fla\u0000sk": {"version": "==2.2.4"}}}),
}


@pytest.mark.parametrize("filename", sorted(NUL_LOCKFILES))
async def test_a_nul_in_a_package_entry_is_an_unscannable_entry(
    client: AsyncClient, admin_key: str, filename: str
) -> None:
    body = {"filename": filename, "content": NUL_LOCKFILES[filename]}
    response = await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(admin_key))
    assert response.status_code == 200, response.text
    (entry,) = [e for e in response.json()["result"]["unscannable"] if "NUL" in e["reason"]]
    assert "\u0000" not in json.dumps(entry, ensure_ascii=False)
    assert "\ufffd" in entry["name"] or "\ufffd" in entry["reason"]
    stored = await client.get(f"/api/v1/scans/{response.json()['id']}", headers=bearer(admin_key))
    assert stored.status_code == 200
    assert stored.json()["result"]["unscannable"] == response.json()["result"]["unscannable"]


async def test_a_nul_in_an_email_is_a_422_naming_the_field(client: AsyncClient, admin_key: str) -> None:
    response = await client.post(
        "/api/v1/admin/users", json={"email": "a\u0000b@example.com"}, headers=bearer(admin_key)
    )
    problem = _problem(response, 422)
    assert problem["invalid-params"] == [{"name": "email", "reason": problem["detail"]}]


async def test_a_nul_in_a_key_name_is_a_422_naming_the_field(
    client: AsyncClient, app: Litestar, admin_key: str
) -> None:
    user, _ = await create_user(app, "dev@example.com")
    response = await client.post(
        f"/api/v1/admin/users/{user.id}/keys", json={"name": "ci\u0000"}, headers=bearer(admin_key)
    )
    problem = _problem(response, 422)
    assert problem["invalid-params"] == [{"name": "name", "reason": problem["detail"]}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://hooks.example.com/\u0000", "secret": "0123456789abcdef"}, "url"),
        ({"url": "https://hooks.example.com/", "secret": "0123456789abcdef\u0000"}, "secret"),
    ],
)
async def test_a_nul_in_a_webhook_is_a_422_naming_the_field(
    client: AsyncClient, admin_key: str, body: dict[str, str], field: str
) -> None:
    response = await client.put("/api/v1/account/notifications", json=body, headers=bearer(admin_key))
    problem = _problem(response, 422)
    assert problem["invalid-params"] == [{"name": field, "reason": problem["detail"]}]


async def test_json_columns_store_text_holding_nul(app: Litestar, settings: object) -> None:
    """The last line of defence: a NUL that reaches a JSON column is stored as U+FFFD, not a failed insert."""
    user, _ = await create_user(app, "dev@example.com")
    scan = Scan(
        id=uuid.uuid4(),
        user_id=user.id,
        scan_type=ScanType.DOCKER,
        status=ScanStatus.COMPLETED,
        input_data=ArchiveImageInput(
            image="x", platform="linux/amd64", archive="evil\u0000.tar", archive_sha256="0" * 64, archive_size="1"
        ),
        input_hash="0" * 64,
        created_at=datetime.now(UTC),
        result=msgspec.structs.replace(
            scan_result(packages=[Package(name="pkg\u0000", version="1", ecosystem="npm")]), counts={"k\u0000": 1}
        ),
    )
    async with container_of(app)() as request:
        scans = await request.get(ScanRepository)
        await scans.add(scan)
        stored = await scans.get(scan.id)
    assert stored is not None
    assert isinstance(stored.input_data, ArchiveImageInput)
    assert stored.input_data.archive == "evil\ufffd.tar"
    assert stored.result is not None
    assert stored.result.packages == (Package(name="pkg\ufffd", version="1", ecosystem="npm"),)
    assert stored.result.counts == {"k\ufffd": 1}


async def test_a_failed_key_insert_logs_neither_the_hash_nor_the_prefix(
    app: Litestar, caplog: pytest.LogCaptureFixture
) -> None:
    user, _ = await create_user(app, "dev@example.com")
    prefix, secret = api_keys.generate_key()
    first = ApiKey(
        id=uuid.uuid4(),
        user_id=user.id,
        prefix=prefix,
        key_hash=api_keys.hash_key(secret),
        name="first",
        created_at=datetime.now(UTC),
    )
    other_prefix, _ = api_keys.generate_key()
    # Same hash under another prefix: a unique violation whose DETAIL would quote the hash.
    duplicate = dataclasses.replace(first, id=uuid.uuid4(), prefix=other_prefix)
    async with container_of(app)() as request:
        keys = await request.get(ApiKeyRepository)
        await keys.add(first)
        with pytest.raises(Conflict) as raised:
            await keys.add(duplicate)
    with caplog.at_level(logging.ERROR):
        logging.getLogger("secapi.test").error("key insert failed", exc_info=raised.value)
    logged = caplog.text + "".join(traceback.format_exception(raised.value))
    assert "UniqueViolationError" in logged  # the cause is still named
    for secret_part in (first.key_hash, other_prefix, prefix):
        assert secret_part not in logged


@pytest.mark.parametrize("filename", ["package-lock.json", "Cargo.lock", "poetry.lock", "composer.lock", "yarn.lock"])
async def test_an_empty_lockfile_is_a_422_saying_so(client: AsyncClient, admin_key: str, filename: str) -> None:
    body = {"filename": filename, "content": ""}
    problem = _problem(await client.post("/api/v1/scan/dependencies", json=body, headers=bearer(admin_key)), 422)
    assert str(problem["detail"]).startswith("the file is empty")
    assert problem["invalid-params"] == [{"name": "content", "reason": "the file is empty", "location": None}]
