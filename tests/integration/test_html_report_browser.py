"""The HTML report in a real browser: Debian's headless Chromium renders each page without a console message
(no script error, no blocked fetch), builds the DOM the report means, and paints it (screenshots kept).

The pages and screenshots are kept under `test-artifacts/html-report/` (ignored by git) for a person or a CI job
to look at; `SECAPI_TEST_ARTIFACTS` moves them elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from secapi.adapters.formats.html_report import SEVERITY_COLOURS, HtmlReport
from secapi.domain.model import Scan
from secapi.domain.severity import Severity

from support.chromium import WINDOW, chromium_binary, read_png, run_headless
from support.report_scans import (
    HOSTILE_ERROR,
    HOSTILE_PACKAGE,
    empty_scan,
    failed_scan,
    scan_with_findings,
    suppressed_scan,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SECAPI_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "html-report"

CRITICAL = SEVERITY_COLOURS[Severity.CRITICAL]
LOW = SEVERITY_COLOURS[Severity.LOW]
ERROR_BACKGROUND = "#fdecec"
CLEAN_BACKGROUND = "#eef7ee"
NOTICE_BACKGROUND = "#fff4ec"


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_binary()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def test_the_console_check_sees_script_errors(chromium: str, tmp_path: Path) -> None:
    """The check below is not blind: a page that throws, or fetches against its policy, logs to the console."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head>"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'\">"
        '</head><body><img src="https://example.invalid/x.png"><script>undefinedFunction();</script></body></html>'
    )

    console = run_headless(chromium, page, "--dump-dom").console

    assert any("Uncaught ReferenceError" in line for line in console), console
    assert any("Content Security Policy" in line for line in console), console


@pytest.mark.parametrize(
    ("name", "make", "expected_text", "painted", "not_painted"),
    [
        (
            "findings",
            scan_with_findings,
            ["4 vulnerabilities", "GHSA-aaaa-bbbb-cccc", HOSTILE_PACKAGE],
            # One critical and one low finding: each bar is the full 300 x 20 pixels (one is the most of any level).
            {CRITICAL: 300 * 20, LOW: 300 * 20},
            (),
        ),
        (
            "empty",
            empty_scan,
            ["No known vulnerabilities in the 1 package scanned", "rust-binary"],
            {NOTICE_BACKGROUND: 2_000},
            (CRITICAL, CLEAN_BACKGROUND),  # no bar is painted, and the verdict has caveats: no green all-clear
        ),
        ("failed", failed_scan, ["The scan failed", HOSTILE_ERROR], {ERROR_BACKGROUND: 2_000}, ()),
        (
            "suppressed",
            suppressed_scan,
            ["2 more suppressed", "Suppressed findings", "VEX: under_investigation"],
            {CRITICAL: 300 * 20},
            (),
        ),
    ],
)
def test_report_renders_in_headless_chromium(
    chromium: str,
    artifacts: Path,
    name: str,
    make: Callable[[], Scan],
    expected_text: list[str],
    painted: dict[str, int],
    not_painted: tuple[str, ...],
) -> None:
    page = artifacts / f"{name}.html"
    page.write_bytes(HtmlReport().render(make()))
    screenshot = artifacts / f"{name}.png"
    screenshot.unlink(missing_ok=True)

    dom = run_headless(chromium, page, "--dump-dom")
    shot = run_headless(chromium, page, f"--screenshot={screenshot}")

    assert dom.console == [], f"console messages while rendering {page}: {dom.console}"
    assert shot.console == [], f"console messages while rendering {page}: {shot.console}"
    rendered = dom.output
    assert "<script" not in rendered.lower()  # no hostile string became an element
    assert "<iframe" not in rendered.lower()
    for text in expected_text:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in rendered, f"{text!r} not in the rendered DOM of {page}"

    assert screenshot.stat().st_size > 10_000
    image = read_png(screenshot)
    assert (image.width, image.height) == WINDOW
    assert len(image.colours) > 100  # text, bars and boxes, not a blank page
    (background, most), *_ = image.colours.most_common(1)
    assert most < image.width * image.height * 0.95, f"{screenshot} is nearly one colour {background}"
    for colour, least in painted.items():
        assert image.pixels_near(colour) >= least, f"{screenshot} shows too little {colour}"
    for colour in not_painted:
        assert image.pixels_near(colour) < 100, f"{screenshot} shows {colour}"  # a few edge pixels may come close
