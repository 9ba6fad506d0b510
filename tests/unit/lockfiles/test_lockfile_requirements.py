"""pip requirements files: pip's own syntax, and no line that names a package is ever dropped."""

from __future__ import annotations

import pytest

from secapi.adapters.lockfiles import parse_lockfile
from secapi.domain.lockfiles import ParsedLockfile


def _parse(content: str) -> ParsedLockfile:
    return parse_lockfile("requirements.txt", content)


def test_an_unparseable_line_is_reported_and_the_rest_is_still_scanned() -> None:
    content = "flask==2.0.1\nlegacy==2.0.0-final\n--frobnicate\n!!! not a requirement\nrequests==2.31.0\n"
    parsed = _parse(content)
    assert [(p.name, p.version) for p in parsed.packages] == [("flask", "2.0.1"), ("requests", "2.31.0")]
    assert [(e.name, e.location) for e in parsed.unscannable] == [
        ("legacy", "line 2"),
        ("--frobnicate", "line 3"),
        ("!!! not a requirement", "line 4"),
    ]
    legacy, option, garbage = parsed.unscannable
    assert "not a valid requirement" in legacy.reason
    assert "unknown pip option" in option.reason
    assert "not a valid requirement" in garbage.reason


def test_arbitrary_equality_keeps_a_legacy_version_as_written() -> None:
    [package] = _parse("legacy===2.0.0-final\n").packages
    assert (package.name, package.version) == ("legacy", "2.0.0-final")


def test_hashes_on_continuation_lines_and_the_first_physical_line_number() -> None:
    content = (
        "# header\n"
        "certifi==2023.7.22 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        "    # via requests\n"
        "idna==3.4 --hash=sha256:cccc\n"
        "six \\\n"
        "  ==1.16.0\n"
    )
    parsed = _parse(content)
    assert [(p.name, p.version, p.location) for p in parsed.packages] == [
        ("certifi", "2023.7.22", "line 2"),
        ("idna", "3.4", "line 6"),
        ("six", "1.16.0", "line 7"),
    ]
    assert parsed.unscannable == ()


def test_markers_and_trailing_comments_do_not_hide_the_pin() -> None:
    content = 'typing-extensions==4.8.0; python_version < "3.8"  # backport\nurllib3==2.0.7 # pinned\n'
    parsed = _parse(content)
    assert [(p.name, p.version) for p in parsed.packages] == [("typing-extensions", "4.8.0"), ("urllib3", "2.0.7")]


@pytest.mark.parametrize(
    "option",
    [
        "--index-url https://pypi.org/simple",
        "-i https://pypi.org/simple",
        "--extra-index-url=https://mirror.example/simple",
        "--find-links ./wheels",
        "-f ./wheels",
        "--trusted-host mirror.example",
        "--pre",
        "--no-binary :all:",
        "--only-binary=:all:",
        "--prefer-binary",
        "--require-hashes",
    ],
)
def test_pip_setting_options_are_accepted_and_name_nothing(option: str) -> None:
    parsed = _parse(f"{option}\nflask==2.0.1\n")
    assert [(p.name, p.version) for p in parsed.packages] == [("flask", "2.0.1")]
    assert parsed.unscannable == ()


@pytest.mark.parametrize(
    ("text", "name", "reason"),
    [
        ("-r base.txt", "base.txt", "includes another requirements file"),
        ("--requirement=base.txt", "base.txt", "includes another requirements file"),
        ("-c constraints.txt", "constraints.txt", "constraints file"),
        ("--constraint constraints.txt", "constraints.txt", "constraints file"),
        ("-e .", ".", "editable install of local code"),
        ("--editable ./libs/shared", "./libs/shared", "editable install of local code"),
        ("-e git+https://github.com/acme/lib.git@v1#egg=acme-lib", "acme-lib", "editable install of a VCS checkout"),
        ("lib @ https://example.org/lib-1.0.tar.gz", "lib", "URL, VCS or local path"),
        ("git+https://github.com/acme/pay.git@main#egg=payments", "payments", "URL, VCS or local path"),
        ("flask>=2", "flask", "not pinned to one exact version (>=2)"),
    ],
)
def test_entries_that_cannot_be_scanned_are_named_with_a_reason(text: str, name: str, reason: str) -> None:
    [entry] = _parse(f"# comment\n{text}\n").unscannable
    assert (entry.name, entry.location) == (name, "line 2")
    assert reason in entry.reason
