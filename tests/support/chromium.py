"""Headless Chromium (Debian's `chromium`) for page tests: screenshots, the rendered DOM, the console, and a PNG reader.

Chromium writes every console message of the page — `console.*` calls, uncaught exceptions, Content Security
Policy violations — to stderr as `INFO:CONSOLE` lines when started with `--enable-logging=stderr --v=0`;
`Rendering.console` holds them. A page that is clean logs none.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CONSOLE_LINE = re.compile(r":CONSOLE[:(]\d*\)?\]?\s*(.*)")
WINDOW = (1100, 1500)


def chromium_binary() -> str:
    """The installed Chromium; skips the test when there is none (fails under CI=true, where .ci/run installs it)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found is not None:
            return found
    message = "Debian's chromium is not installed (apt-get install chromium)"
    if IN_CI:
        pytest.fail(f"{message}; required under CI=true, .ci/run installs it", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True, slots=True)
class Rendering:
    """What one headless run of a page gave: its output (the DOM, or nothing for a screenshot) and console lines."""

    output: str
    console: list[str]


def run_headless(binary: str, page: Path, *mode: str, timeout: float = 120.0) -> Rendering:
    """Load `page` (a local file) in a fresh headless profile with `mode` (`--dump-dom`, `--screenshot=...`)."""
    with tempfile.TemporaryDirectory(prefix="secapi-chromium-") as profile:
        done = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",  # the tests run as root in CI containers
                "--disable-gpu",
                "--disable-extensions",
                "--disable-background-networking",
                "--no-first-run",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                *mode,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    console = [m.group(1) for line in done.stderr.splitlines() if (m := CONSOLE_LINE.search(line))]
    return Rendering(output=done.stdout, console=console)


@dataclass(frozen=True, slots=True)
class Image:
    """A decoded 8-bit RGB or RGBA PNG: its size and its pixels' colours (alpha dropped) with their counts."""

    width: int
    height: int
    colours: Counter[tuple[int, int, int]]

    def pixels_near(self, colour: str, tolerance: int = 4) -> int:
        """Pixels within `tolerance` per channel of `colour` (`#rrggbb`)."""
        want = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        return sum(
            n for rgb, n in self.colours.items() if all(abs(a - b) <= tolerance for a, b in zip(rgb, want, strict=True))
        )


def read_png(path: Path) -> Image:
    """Decode a non-interlaced 8-bit truecolour PNG (what Chromium writes) without an imaging library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, bytearray(), b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8, f"bit depth {depth}"
    assert colour_type in (2, 6), f"colour type {colour_type}"
    assert interlace == 0, "interlaced"
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    colours: Counter[tuple[int, int, int]] = Counter()
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, row, previous, channels)
        colours.update(zip(row[0::channels], row[1::channels], row[2::channels], strict=True))
        previous = row
    return Image(width=width, height=height, colours=colours)


def _unfilter(kind: int, row: bytearray, prev: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    if kind == 1:
        for i in range(bpp, len(row)):
            row[i] = (row[i] + row[i - bpp]) & 0xFF
    elif kind == 2:
        row[:] = bytes((a + b) & 0xFF for a, b in zip(row, prev, strict=True))
    elif kind == 3:
        for i in range(len(row)):
            left = row[i - bpp] if i >= bpp else 0
            row[i] = (row[i] + ((left + prev[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            row[i] = (row[i] + predictor) & 0xFF
    else:
        raise AssertionError(f"PNG filter type {kind}")
