"""Messages a person understands, and NUL characters that never reach the database from a lockfile.

Each refusal says what is wrong in the caller's terms: a reference is not a URL, credentials do not
belong in it, a number is "a number", an empty lockfile is empty, a device is a device.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from secapi.adapters.catalog.tarstream import describe_member
from secapi.adapters.lockfiles import parse_lockfile
from secapi.adapters.registry.archive_members import ArchiveMembers
from secapi.domain.images import ImageRejected, InvalidImageReference, parse_image_reference
from secapi.domain.lockfiles import MalformedLockfile, ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

# --- image references -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "bare"),
    [("http://127.0.0.1/x:1", "http://", "127.0.0.1/x:1"), ("https://ghcr.io/o/r", "https://", "ghcr.io/o/r")],
)
def test_a_reference_with_a_scheme_says_to_drop_it(text: str, scheme: str, bare: str) -> None:
    with pytest.raises(InvalidImageReference) as raised:
        parse_image_reference(text)
    assert raised.value.reason == f"an image reference has no scheme: drop {scheme!r} and write {bare!r}"
    assert "port" not in str(raised.value)


@pytest.mark.parametrize("text", ["user:pw@host/x:1", "user:pw@ghcr.io/o/r", "https://user:pw@ghcr.io/o/r:1"])
def test_credentials_in_a_reference_are_refused_and_never_echoed(text: str) -> None:
    with pytest.raises(InvalidImageReference) as raised:
        parse_image_reference(text)
    message = str(raised.value)
    assert "credentials do not belong in an image reference" in message
    assert "SECAPI_REGISTRY_CREDENTIALS" in message
    assert "digest" not in message
    assert "pw" not in message
    assert raised.value.field == "image"


def test_a_digest_reference_is_still_a_digest_reference() -> None:
    digest = "sha256:" + "a" * 64
    assert parse_image_reference(f"nginx@{digest}").digest == digest
    with pytest.raises(InvalidImageReference, match="digest must be sha256"):
        parse_image_reference("nginx@sha256:abc")


# --- lockfile wording -------------------------------------------------------------------------

WRONG_TYPES = {
    "package-lock.json": (
        json.dumps({"lockfileVersion": 3, "packages": {"node_modules/a": {"version": 1}}}),
        "expected a string, found a number",
    ),
    "composer.lock": (json.dumps({"packages": [{"name": "a/b", "version": 1.5}]}), "expected a string, found a number"),
    "Cargo.lock": ('[[package]]\nname = "a"\nversion = 1979-05-27\n', "expected a string, found a date"),
    "poetry.lock": ('[[package]]\nname = "a"\nversion = 2\n', "expected a string, found a number"),
}


@pytest.mark.parametrize("filename", sorted(WRONG_TYPES))
def test_a_mistyped_field_is_named_in_plain_words(filename: str) -> None:
    content, expected = WRONG_TYPES[filename]
    (entry,) = parse_lockfile(filename, content).unscannable
    assert expected in entry.reason
    assert " a int" not in entry.reason
    assert " a float" not in entry.reason


STRUCTURED = [
    "Cargo.lock",
    "Gemfile.lock",
    "Pipfile.lock",
    "composer.lock",
    "go.mod",
    "npm-shrinkwrap.json",
    "package-lock.json",
    "pnpm-lock.yaml",
    "poetry.lock",
    "uv.lock",
    "yarn.lock",
]


@pytest.mark.parametrize("content", ["", " \n\t\n", "\ufeff"])
@pytest.mark.parametrize("filename", STRUCTURED)
def test_an_empty_lockfile_says_it_is_empty(filename: str, content: str) -> None:
    with pytest.raises(MalformedLockfile) as raised:
        parse_lockfile(filename, content)
    assert raised.value.reason == "the file is empty"
    assert str(raised.value).startswith("the file is empty")
    assert raised.value.field == "content"


def test_an_empty_requirements_file_is_a_project_without_requirements() -> None:
    parsed = parse_lockfile("requirements-dev.txt", "")
    assert (parsed.packages, parsed.unscannable) == ((), ())


# --- NUL characters in lockfile entries -------------------------------------------------------

NUL_ENTRIES = {
    "package-lock.json": json.dumps(
        {"lockfileVersion": 3, "packages": {"node_modules/a\u0000b": {"version": "1.0.0"}}}
    ),
    "npm-shrinkwrap.json": json.dumps({"lockfileVersion": 1, "dependencies": {"a": {"version": "1.0\u0000"}}}),
    "yarn.lock": 'left\u0000pad@^1.3.0:\n  version "1.3.0"\n',
    "pnpm-lock.yaml": 'lockfileVersion: "9.0"\npackages:\n  "left\\0pad@1.3.0":\n    resolution: {integrity: x}\n',
    "go.mod": "module example.com/x\n\ngo 1.22\n\nrequire example.com/a\u0000b v1.0.0\n",
    "Gemfile.lock": "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack\u0000 (2.2.3)\n\nPLATFORMS\n  ruby\n",
    "composer.lock": json.dumps({"packages": [{"name": "a/b", "version": "1.0.0\u0000"}]}),
    "Pipfile.lock": json.dumps({"default": {"fla\u0000sk": {"version": "==2.2.4"}}}),
    "Cargo.lock": '[[package]]\nname = "serde\\u0000"\nversion = "1.0.0"\n'
    'source = "registry+https://github.com/rust-lang/crates.io-index"\n',
    "poetry.lock": '[[package]]\nname = "flask"\nversion = "2.2.4\\u0000"\n',
    "uv.lock": 'version = 1\n[[package]]\nname = "flask\\u0000"\nversion = "2.2.4"\n'
    'source = { registry = "https://pypi.org/simple" }\n',
}


@pytest.mark.parametrize("filename", sorted(NUL_ENTRIES))
def test_a_package_entry_holding_nul_is_unscannable_in_every_format(filename: str) -> None:
    parsed = parse_lockfile(filename, NUL_ENTRIES[filename])
    texts = json.dumps([str(item) for item in (*parsed.packages, *parsed.unscannable)], ensure_ascii=False)
    assert "\u0000" not in texts
    nul_entries = [entry for entry in parsed.unscannable if "NUL character" in entry.reason]
    assert len(nul_entries) == 1
    assert all(p.name.isprintable() and p.version.isprintable() for p in parsed.packages)


def test_the_shared_filter_catches_any_parser_and_keeps_the_rest() -> None:
    good = Package(name="flask", version="2.2.4", ecosystem="PyPI", location="line 1")
    bad = Package(name="re\u0000quests", version="2.0.0", ecosystem="PyPI", location="line 2")
    odd = UnscannableEntry(name="x\u0000", reason="no version\u0000", location="line\u00003")
    parsed = ParsedLockfile.of("PyPI", [good, bad], [odd])
    assert parsed.packages == (good,)
    assert parsed.unscannable == (
        UnscannableEntry(name="x\ufffd", reason="no version\ufffd", location="line\ufffd3"),
        UnscannableEntry(
            name="re\ufffdquests",
            reason="its name contains a NUL character (U+0000, shown as \ufffd), which no released package has",
            location="line 2",
        ),
    )


# --- archive and layer members ----------------------------------------------------------------


def _member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("kind", "linkname", "expected"),
    [
        (tarfile.CHRTYPE, "", "a character device, not a regular file"),
        (tarfile.BLKTYPE, "", "a block device, not a regular file"),
        (tarfile.FIFOTYPE, "", "a named pipe, not a regular file"),
        (tarfile.SYMTYPE, "/etc/shadow", "a symbolic link to /etc/shadow; links are not followed"),
        (tarfile.LNKTYPE, "../x", "a hard link to ../x, a file this layer did not read; links are not followed"),
    ],
)
def test_a_member_that_is_not_a_file_is_described_as_what_it_is(kind: bytes, linkname: str, expected: str) -> None:
    described = describe_member(_member("var/lib/dpkg/status", kind, linkname))
    assert described.startswith(expected)
    assert "special file" not in described


def test_an_archive_member_that_is_a_device_is_refused_by_name(tmp_path: Path) -> None:
    members = ArchiveMembers(tmp_path / "image.tar", {"manifest.json": _member("manifest.json", tarfile.FIFOTYPE)})
    with pytest.raises(ImageRejected) as raised:
        members.regular("manifest.json")
    assert str(raised.value) == (
        "archive member 'manifest.json' is a named pipe, not a regular file: "
        "it holds no file contents to read, and it is never opened"
    )
