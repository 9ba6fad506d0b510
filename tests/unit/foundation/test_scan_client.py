"""`secapi scan`'s client against a scripted server (httpx.MockTransport): what it sends, how it waits, how it
exits. The same client against the real app and a served process: tests/integration/test_cli_scan.py."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from secapi.adapters.lockfiles.registry import SUPPORTED_LOCKFILES, parser_for
from secapi.domain.lockfiles import LOCKFILE_NAMES, UnsupportedLockfile, is_lockfile_name
from secapi.entrypoints.client import (
    EXIT_CLEAN,
    EXIT_FAILED,
    EXIT_FINDINGS,
    EXIT_USAGE,
    MAX_429_RETRIES,
    ClientError,
    ScanOptions,
    ScanView,
    Target,
    TargetKind,
    api_key_from,
    base_url_from,
    classify,
    format_for_output,
    problem_line,
    run_scan,
    table,
    verdict,
)

SCAN_ID = "3f2b8c1e-0000-4000-8000-000000000001"
BASE = "http://secapi.test"


def _finding(advisory: str, severity: str, package: str = "flask") -> dict[str, Any]:
    return {
        "id": advisory,
        "aliases": [],
        "package": {"name": package, "version": "2.2.0", "ecosystem": "PyPI"},
        "installed_version": "2.2.0",
        "fixed_versions": ["2.2.5"],
        "severity": severity,
        "score": None,
        "summary": "",
        "references": [],
    }


def _view(status: str, findings: list[dict[str, Any]] | None = None, **result: Any) -> dict[str, Any]:
    body = None
    if status == "completed":
        body = {"target": "requirements.txt", "vulnerabilities": findings or [], "vulndb_version": 7, **result}
    return {"id": SCAN_ID, "scan_type": "dependencies", "status": status, "result": body, "error": None}


class Server:
    """Answers requests from a script; records them."""

    def __init__(self, *answers: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        request.read()
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer


def _client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.MockTransport(server), base_url=BASE, headers={"Authorization": "Bearer k"}
    )


class Sleeps:
    """Fake time: sleeping advances the clock the client reads."""

    def __init__(self) -> None:
        self.total = 0.0

    async def __call__(self, seconds: float) -> None:
        self.total += seconds

    def now(self) -> float:
        return self.total


@pytest.fixture
def lockfile(tmp_path: Path) -> Target:
    path = tmp_path / "requirements.txt"
    path.write_text("flask==2.2.0\n")
    return Target(TargetKind.LOCKFILE, str(path))


async def _run(server: Server, target: Target, sleeps: Sleeps | None = None, **options: Any) -> Any:
    sleeps = sleeps or Sleeps()
    async with _client(server) as client:
        return await run_scan(client, ScanOptions(target=target, **options), sleep=sleeps, now=sleeps.now)


def test_the_client_recognises_lockfiles_by_the_names_the_parsers_read() -> None:
    assert all(is_lockfile_name(name) for name in LOCKFILE_NAMES)
    for name in ("dev-requirements.txt", "requirements-test.txt", "Contoso.Api.deps.json", "a/b/go.mod"):
        assert is_lockfile_name(name)
        parser_for(name)  # the server reads it too
    for name in ("README.md", "package.json", "bom.json", "Poetry.lock"):
        assert not is_lockfile_name(name)
        with pytest.raises(UnsupportedLockfile):
            parser_for(name)
    assert len(SUPPORTED_LOCKFILES) == len(LOCKFILE_NAMES) + 8


def _tar(path: Path, *, gzipped: bool = False) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b'{"schemaVersion": 2}'
        member = tarfile.TarInfo("index.json")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()) if gzipped else buffer.getvalue())


def test_classify_tells_lockfiles_sboms_archives_and_image_references_apart(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text("[[package]]\n")
    (tmp_path / "scan-me").write_text('{"bomFormat": "CycloneDX", "specVersion": "1.6"}')
    (tmp_path / "doc.json").write_text('{"spdxVersion": "SPDX-2.3", "packages": []}')
    (tmp_path / "bom.xml").write_text('<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>')
    (tmp_path / "sbom.txt").write_text("SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n")
    (tmp_path / "empty.cdx.json").write_text("")  # the extension says so; the server will say what is wrong
    _tar(tmp_path / "image.tar")
    _tar(tmp_path / "image.tar.gz", gzipped=True)
    kinds = {path.name: classify(str(path)).kind for path in tmp_path.iterdir()}
    assert kinds == {
        "poetry.lock": TargetKind.LOCKFILE,
        "scan-me": TargetKind.SBOM,
        "doc.json": TargetKind.SBOM,
        "bom.xml": TargetKind.SBOM,
        "sbom.txt": TargetKind.SBOM,
        "empty.cdx.json": TargetKind.SBOM,
        "image.tar": TargetKind.ARCHIVE,
        "image.tar.gz": TargetKind.ARCHIVE,
    }
    assert classify("nginx:1.24") == Target(TargetKind.IMAGE, "nginx:1.24")
    assert classify("registry.example.com:5000/team/app@sha256:" + "a" * 64).kind is TargetKind.IMAGE
    assert classify(str(tmp_path / "notes.md"), TargetKind.IMAGE).kind is TargetKind.IMAGE


@pytest.mark.parametrize("value", ["package-lock.json", "./missing", "results/bom.cdx.json", "image.tar"])
def test_a_missing_file_is_a_usage_error_not_an_image_reference(value: str, tmp_path: Path) -> None:
    with pytest.raises(ClientError) as raised:
        classify(str(tmp_path / value) if value.startswith("results") else value)
    assert raised.value.exit_code == EXIT_USAGE
    assert "no such file" in str(raised.value)


def test_an_unrecognised_file_or_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# nothing to scan\n")
    for value in (str(tmp_path / "notes.md"), str(tmp_path)):
        with pytest.raises(ClientError) as raised:
            classify(value)
        assert raised.value.exit_code == EXIT_USAGE
    with pytest.raises(ClientError, match="pass --type"):
        classify(str(tmp_path / "notes.md"))


def test_configuration_comes_from_options_then_the_environment() -> None:
    env = {"SECAPI_URL": "https://secapi.example.com/", "SECAPI_API_KEY": "sk_env"}
    assert api_key_from(None, env) == "sk_env"
    assert api_key_from("sk_flag", env) == "sk_flag"
    assert base_url_from(None, env) == "https://secapi.example.com"
    assert base_url_from("http://127.0.0.1:9000", env) == "http://127.0.0.1:9000"
    assert base_url_from(None, {}) == "http://127.0.0.1:8000"
    for bad in ({}, {"SECAPI_API_KEY": "  "}):
        with pytest.raises(ClientError, match="no API key: set SECAPI_API_KEY or pass --api-key") as raised:
            api_key_from(None, bad)
        assert raised.value.exit_code == EXIT_USAGE
    with pytest.raises(ClientError, match="not a server URL") as raised:
        base_url_from("secapi.example.com", {})
    assert raised.value.exit_code == EXIT_USAGE


def test_the_output_format_is_named_or_implied_by_the_file_name() -> None:
    assert format_for_output("spdx", Path("out.json")) == "spdx"
    assert format_for_output(None, Path("results.sarif")) == "sarif"
    assert format_for_output(None, Path("bom.cdx.json")) == "cyclonedx"
    assert format_for_output(None, Path("report.html")) == "html"
    assert format_for_output(None, None) is None
    with pytest.raises(ClientError, match="pass --format"):
        format_for_output(None, Path("results.txt"))


async def test_a_synchronous_answer_sends_the_lockfile_by_name_and_exits_by_severity(lockfile: Target) -> None:
    findings = [_finding("GHSA-high", "HIGH"), _finding("GHSA-low", "LOW", "jinja2")]
    server = Server(*(httpx.Response(200, json=_view("completed", findings)) for _ in range(4)))
    assert (await _run(server, lockfile, fail_on="high")).exit_code == EXIT_FINDINGS
    assert (await _run(server, lockfile, fail_on="critical")).exit_code == EXIT_CLEAN
    default = await _run(server, lockfile)
    assert default.exit_code == EXIT_CLEAN  # --fail-on never, the default
    assert verdict(default, "never") == (
        "exit 0: --fail-on never (the default); --fail-on high fails the build at HIGH or CRITICAL"
    )
    outcome = await _run(server, lockfile, fail_on="low")
    assert [f.id for f in outcome.failing] == ["GHSA-high", "GHSA-low"]
    assert verdict(outcome, "low") == "2 finding(s) at or above --fail-on low: exit 1"
    sent = server.requests[0]
    assert (sent.method, sent.url.path) == ("POST", "/api/v1/scan/dependencies")
    assert b'name="file"; filename="requirements.txt"' in sent.content  # outside the cwd: its base name
    assert b"flask==2.2.0" in sent.content
    assert sent.headers["authorization"] == "Bearer k"


async def test_unknown_severity_fails_only_at_any_and_suppressed_findings_never(lockfile: Target) -> None:
    view = _view("completed", [_finding("PYSEC-1", "UNKNOWN")], suppressed=[_finding("GHSA-crit", "CRITICAL")])
    server = Server(*(httpx.Response(200, json=view) for _ in range(2)))
    below = await _run(server, lockfile, fail_on="low")
    assert below.exit_code == EXIT_CLEAN
    assert verdict(below, "low") == "1 of unknown severity (only --fail-on any counts them)"
    assert (await _run(server, lockfile, fail_on="any")).exit_code == EXIT_FINDINGS


async def test_a_queued_scan_is_polled_with_backoff_until_it_finishes(lockfile: Target) -> None:
    queued = httpx.Response(202, json=_view("queued"), headers={"Location": f"/api/v1/scans/{SCAN_ID}"})
    server = Server(
        queued,
        *(httpx.Response(200, json=_view("running")) for _ in range(4)),
        httpx.Response(200, json=_view("completed", [_finding("GHSA-crit", "CRITICAL")])),
    )
    sleeps = Sleeps()
    outcome = await _run(server, lockfile, sleeps, fail_on="critical")
    assert outcome.exit_code == EXIT_FINDINGS
    polls = server.requests[1:]
    assert [(r.method, r.url.path) for r in polls] == [("GET", f"/api/v1/scans/{SCAN_ID}")] * 5
    assert sleeps.total == pytest.approx(1 + 1.5 + 2.25 + 3.375 + 5.0625)  # backoff, not a fixed interval


async def test_a_scan_still_running_at_the_timeout_exits_3_naming_where_to_poll(lockfile: Target) -> None:
    running = [httpx.Response(200, json=_view("running")) for _ in range(50)]
    server = Server(httpx.Response(202, json=_view("queued")), *running)
    sleeps = Sleeps()
    with pytest.raises(ClientError) as raised:
        await _run(server, lockfile, sleeps, timeout=60.0)
    assert raised.value.exit_code == EXIT_FAILED
    assert sleeps.total == pytest.approx(60.0)  # waited the whole timeout, not a moment past it
    assert 6 < len(server.requests) < 15  # polled with backoff (1 s growing to 10 s), not every second
    assert f"GET /api/v1/scans/{SCAN_ID}" in str(raised.value)


async def test_a_429_is_retried_after_retry_after_at_most_twice(lockfile: Target) -> None:
    limited = {"type": "https://secapi.dev/problems/quota-exceeded", "title": "Too many requests", "status": 429}
    limited["detail"] = "20 requests per minute on the free tier"

    def too_many(_: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json=limited, headers={"Retry-After": "3"})

    server = Server(too_many, httpx.Response(200, json=_view("completed")))
    sleeps = Sleeps()
    assert (await _run(server, lockfile, sleeps)).exit_code == EXIT_CLEAN
    assert sleeps.total == pytest.approx(3)
    assert b"flask==2.2.0" in server.requests[1].content  # the file is sent again on the retry

    server = Server(*(too_many for _ in range(MAX_429_RETRIES + 1)))
    with pytest.raises(ClientError) as raised:
        await _run(server, lockfile)
    assert len(server.requests) == MAX_429_RETRIES + 1
    assert raised.value.exit_code == EXIT_FAILED
    assert str(raised.value) == "Too many requests: 20 requests per minute on the free tier [HTTP 429]"


async def test_server_problems_are_one_line_and_exit_3_a_refused_key_exits_2(lockfile: Target) -> None:
    malformed = {
        "type": "https://secapi.dev/problems/malformed-lockfile",
        "title": "Malformed lockfile",
        "status": 422,
        "detail": "requirements.txt is malformed at line 1: no version",
    }
    server = Server(httpx.Response(422, json=malformed, headers={"Content-Type": "application/problem+json"}))
    with pytest.raises(ClientError) as raised:
        await _run(server, lockfile)
    assert (raised.value.exit_code, str(raised.value)) == (
        EXIT_FAILED,
        "Malformed lockfile: requirements.txt is malformed at line 1: no version [HTTP 422]",
    )
    unauthorized = {"title": "Authentication required", "status": 401, "detail": "the API key is not valid"}
    with pytest.raises(ClientError) as raised:
        await _run(Server(httpx.Response(401, json=unauthorized)), lockfile)
    assert raised.value.exit_code == EXIT_USAGE
    assert "refused the API key" in str(raised.value)
    with pytest.raises(ClientError) as raised:
        await _run(Server(httpx.Response(502, text="<html>Bad Gateway</html>")), lockfile)
    assert str(raised.value) == "HTTP 502 Bad Gateway: <html>Bad Gateway</html> [HTTP 502]"


async def test_a_failed_scan_and_an_unreachable_server_exit_3(lockfile: Target) -> None:
    failed = _view("failed") | {"error": "layer sha256:ab is not a tar archive"}
    server = Server(httpx.Response(202, json=_view("running")), httpx.Response(200, json=failed))
    with pytest.raises(ClientError, match="Scan failed: layer sha256:ab is not a tar archive") as raised:
        await _run(server, lockfile)
    assert raised.value.exit_code == EXIT_FAILED

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ClientError, match=r"cannot reach http://secapi\.test: connection refused") as raised:
        await _run(Server(refuse), lockfile)
    assert raised.value.exit_code == EXIT_FAILED

    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("", request=request)  # a connection reset: httpx gives no text

    with pytest.raises(ClientError, match=r"cannot reach http://secapi\.test: ReadError$"):
        await _run(Server(reset), lockfile)


async def test_a_format_is_fetched_for_the_scan_and_a_not_yet_stored_row_is_retried(lockfile: Target) -> None:
    sarif = json.dumps({"version": "2.1.0", "runs": []}).encode()
    server = Server(
        httpx.Response(200, json=_view("completed")),
        httpx.Response(404, json={"title": "Not found", "status": 404, "detail": "no scan"}),
        httpx.Response(200, content=sarif, headers={"Content-Type": "application/sarif+json"}),
    )
    outcome = await _run(server, lockfile, output_format="sarif")
    assert outcome.document == sarif
    fetch = server.requests[-1]
    assert (fetch.method, fetch.url.path, fetch.url.params["format"]) == ("GET", f"/api/v1/scans/{SCAN_ID}", "sarif")


async def test_images_and_archives_go_to_their_endpoints(tmp_path: Path) -> None:
    server = Server(*(httpx.Response(200, json=_view("completed")) for _ in range(2)))
    await _run(server, Target(TargetKind.IMAGE, "nginx:1.24"), platform="linux/arm64")
    _tar(tmp_path / "app.tar")
    await _run(server, Target(TargetKind.ARCHIVE, str(tmp_path / "app.tar")), image="app:1")
    image, archive = server.requests
    assert (image.url.path, json.loads(image.content)) == (
        "/api/v1/scan/docker",
        {"image": "nginx:1.24", "platform": "linux/arm64"},
    )
    assert archive.url.path == "/api/v1/scan/docker/archive"
    assert b'name="image"\r\n\r\napp:1' in archive.content
    assert b'filename="app.tar"' in archive.content


async def test_a_go_mod_is_sent_with_its_go_sum(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module x\n\ngo 1.21\n")
    (tmp_path / "go.sum").write_text("golang.org/x/text v0.3.7 h1:abc=\n")
    server = Server(httpx.Response(200, json=_view("completed")))
    await _run(server, Target(TargetKind.LOCKFILE, str(tmp_path / "go.mod")))
    assert b'name="files"; filename="go.sum"' in server.requests[0].content


def test_the_table_lists_findings_most_severe_first_and_says_what_else_the_result_holds() -> None:
    view = _view(
        "completed",
        [_finding("GHSA-low", "LOW", "a"), _finding("GHSA-crit", "CRITICAL", "b"), _finding("PYSEC-1", "UNKNOWN")],
        suppressed=[_finding("GHSA-x", "HIGH")],
        unscannable=[{"name": "django", "reason": "not pinned"}],
    )
    lines = table(msgspec.json.decode(json.dumps(view), type=ScanView)).splitlines()
    assert lines[0].split() == ["SEVERITY", "ADVISORY", "PACKAGE", "INSTALLED", "FIXED"]
    assert [line.split()[0] for line in lines[1:4]] == ["CRITICAL", "LOW", "UNKNOWN"]
    assert lines[4] == (
        "requirements.txt: 3 vulnerabilities (1 critical, 1 low, 1 unknown), 1 suppressed, 1 unscannable; "
        "vulnerability database version 7"
    )


def test_a_problem_line_names_the_parameters_a_generic_detail_hides() -> None:
    body = {
        "title": "Bad request",
        "status": 400,
        "detail": "the request is not valid",
        "invalid-params": [{"name": "format", "reason": "must be one of json, sarif"}],
    }
    line = problem_line(httpx.Response(400, json=body))
    assert line == "Bad request: the request is not valid (format: must be one of json, sarif) [HTTP 400]"
