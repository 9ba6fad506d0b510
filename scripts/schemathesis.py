#!/usr/bin/env python3
"""Fuzz the running API against its own OpenAPI document with schemathesis, every check on.

Migrates the database named by SECAPI_DATABASE_URL, imports the sample advisories (so scans run),
creates a business-tier admin key, serves the app with Granian on a free loopback port and runs
`st run --checks all` against /schema/openapi.json. Exits with schemathesis' status.

    SECAPI_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/secapi_st \\
    SECAPI_REDIS_URL=redis://127.0.0.1:6379/13 scripts/schemathesis.py --max-examples 200

Use a scratch database: the run adds users, keys and scans to it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIG = Path(__file__).resolve().with_suffix(".toml")
SERIAL_AST = Path(__file__).resolve().with_name("_st_serial_ast.py")
"""`st` with `ast.parse` behind a lock (see the module: a CPython 3.11.7 race hit by its worker threads)."""
SAMPLE = ROOT / "src" / "secapi" / "adapters" / "osv" / "sample"
SERVER_ENV = {
    # Image scans are queued (no worker runs here): answer 202 quickly rather than after the 2 s default.
    "SECAPI_SCAN_SYNC_BUDGET": "0.2",
    "SECAPI_DOCS_ENABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _secapi(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - our own entrypoint
        [str(BIN / "secapi"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"secapi {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _wait_until_live(base: str, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was live")
        try:
            with urllib.request.urlopen(f"{base}/health/live", timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server at {base} was not live within {timeout} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=100, help="examples per operation and phase")
    parser.add_argument("--seed", type=int, default=None, help="for a reproducible run")
    parser.add_argument("--workers", default="2", help="concurrent schemathesis workers")
    parser.add_argument("st_args", nargs="*", help="more `st run` arguments (after --)")
    options = parser.parse_args(argv)

    env = {**os.environ, **SERVER_ENV}
    if "SECAPI_DATABASE_URL" not in env:
        raise SystemExit("set SECAPI_DATABASE_URL (and SECAPI_REDIS_URL) to a scratch database")
    _secapi("db", "upgrade", env=env)
    _secapi("vulndb", "import", str(SAMPLE), env=env)
    created = json.loads(
        _secapi(
            "users", "create", "--email", f"schemathesis-{uuid.uuid4().hex[:12]}@example.com",
            "--tier", "business", "--admin", "--json", env=env,
        )
    )  # fmt: skip
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603 - our own entrypoint
        [str(BIN / "secapi"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    try:
        _wait_until_live(base, server)
        command = [
            sys.executable, str(SERIAL_AST), "--config-file", str(CONFIG), "run", f"{base}/schema/openapi.json",
            "--checks", "all",
            "--max-examples", str(options.max_examples),
            "--workers", options.workers,
            "--header", f"Authorization: Bearer {created['api_key']}",
            "--suppress-health-check", "too_slow,filter_too_much",
            *(["--seed", str(options.seed)] if options.seed is not None else []),
            *options.st_args,
        ]  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="secapi-st-") as scratch:  # st keeps a cache in its cwd
            return subprocess.run(command, env=env, cwd=scratch, check=False).returncode  # noqa: S603
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    sys.exit(main())
