"""The running API honours its own OpenAPI document: schemathesis with every check, against a real server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from secapi.config import Settings

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "schemathesis.py"
MAX_EXAMPLES = 30
TIME_LIMIT = 240.0


async def test_schemathesis_finds_no_failure_with_every_check(settings: Settings) -> None:
    """Granian on a loopback port, a business-tier admin key, the sample advisories: no check may fail."""
    assert settings.redis_url is not None
    env = {**os.environ, "SECAPI_DATABASE_URL": settings.database_url, "SECAPI_REDIS_URL": settings.redis_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--max-examples",
        str(MAX_EXAMPLES),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=TIME_LIMIT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-20_000:]
    # 21, the five watch operations, OSV's three (/v1), ScanSbom, the ignore rules' three and VEX's four
    assert "Tested: 37" in report, report[-5_000:]
    assert " passed" in report, report[-5_000:]
