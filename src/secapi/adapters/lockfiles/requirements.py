"""pip requirements files (`requirements.txt` and friends): exact `==`/`===` pins only."""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement

from secapi.adapters.lockfiles._common import (
    StructureError,
    line,
    lines,
    redact,
    translate_errors,
)
from secapi.adapters.lockfiles.purl import pypi_purl
from secapi.domain.lockfiles import ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry

ECOSYSTEM = "PyPI"
_COMMENT = re.compile(r"(^|\s)#.*$")
_PER_REQUIREMENT_OPTIONS = re.compile(r"\s+(?=--?[A-Za-z])")
_EGG = re.compile(r"#(?:.*&)?egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_INCLUDE_OPTIONS = ("-r", "--requirement")
_EDITABLE_OPTIONS = ("-e", "--editable")
_SHORT_OPTIONS_WITH_VALUE = ("-r", "-c", "-e", "-i", "-f")


def _logical_lines(content: str) -> Iterator[tuple[int, str]]:
    """Join `\\`-continued lines and strip comments, yielding (first line number, text)."""
    pending: list[str] = []
    start = 0
    for number, text in lines(content):
        is_comment = text.lstrip().startswith("#")
        if text.endswith("\\") and not is_comment:
            start = start if pending else number
            pending.append(text[:-1])
            continue
        if pending:
            # A comment line inside a continuation ends it, as pip does.
            yield start, _COMMENT.sub("", " ".join(pending) + ("" if is_comment else " " + text)).strip()
            pending = []
            continue
        yield number, _COMMENT.sub("", text).strip()
    if pending:
        yield start, _COMMENT.sub("", " ".join(pending)).strip()


def _split_option(text: str) -> tuple[str, str]:
    """Split `-r x`, `-rx`, `--requirement=x` or `--requirement x` into (option, value)."""
    if not text.startswith("--") and text[:2] in _SHORT_OPTIONS_WITH_VALUE:
        return text[:2], text[2:].lstrip(" \t=")
    found = re.search(r"[=\s]", text)
    if found is None:
        return text, ""
    return text[: found.start()], text[found.end() :].strip()


def _is_url_or_path(text: str) -> bool:
    """A bare URL, VCS URL, archive or path; `name @ url` is a named requirement instead."""
    return (
        _SCHEME.match(text) is not None
        or text.startswith((".", "/", "~", "file:", *_VCS_PREFIXES))
        or _WINDOWS_PATH.match(text) is not None
        or ("@" not in text and text.lower().endswith(_ARCHIVES))
    )


def _url_entry(text: str, where: str) -> UnscannableEntry:
    egg = _EGG.search(text)
    return UnscannableEntry(
        name=egg[1] if egg else redact(text),
        reason="installed from a URL, VCS or local path, not a released version on PyPI",
        location=where,
    )


class RequirementsTxtParser:
    """Reads pip requirements files; anything not pinned with `==`/`===` is reported, never guessed."""

    def __init__(self, filename: str = "requirements.txt") -> None:
        self._filename = filename

    def parse(self, content: str) -> ParsedLockfile:
        """Parse a requirements file into PyPI packages and unscannable entries."""
        packages: list[Package] = []
        unscannable: list[UnscannableEntry] = []
        with translate_errors(self._filename):
            for number, text in _logical_lines(content):
                if not text:
                    continue
                where = line(number)
                is_option = text.startswith("-")
                entry = self._option(text, where) if is_option else self._requirement(text, where)
                if isinstance(entry, Package):
                    packages.append(entry)
                elif entry is not None:
                    unscannable.append(entry)
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)

    def _option(self, text: str, where: str) -> UnscannableEntry | None:
        option, value = _split_option(text)
        if option in _INCLUDE_OPTIONS:
            reason = "includes another requirements file whose content was not uploaded"
            return UnscannableEntry(name=value or text, reason=reason, location=where)
        if option in _EDITABLE_OPTIONS and ("://" in value or value.startswith(_VCS_PREFIXES)):
            return _url_entry(value, where)
        # Editable local paths are the project's own code; index and constraint options pin nothing.
        return None

    def _requirement(self, text: str, where: str) -> Package | UnscannableEntry:
        text = _PER_REQUIREMENT_OPTIONS.split(text, maxsplit=1)[0]
        if "${" in text:
            return UnscannableEntry(
                name=text, reason="uses an environment variable that is not known here", location=where
            )
        if _is_url_or_path(text):
            return _url_entry(text, where)
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise StructureError(where, f"not a valid requirement: {str(exc).splitlines()[0]}") from exc
        if requirement.url:
            return UnscannableEntry(
                name=requirement.name,
                reason="installed from a URL, VCS or local path, not a released version on PyPI",
                location=where,
            )
        pins = {s.version for s in requirement.specifier if s.operator in ("==", "===")}
        pins = {version for version in pins if not version.endswith(".*")}
        if len(pins) == 1:
            version = pins.pop()
            return Package(
                name=requirement.name,
                version=version,
                ecosystem=ECOSYSTEM,
                purl=pypi_purl(requirement.name, version),
                location=where,
            )
        spec = str(requirement.specifier) or "any version"
        return UnscannableEntry(
            name=requirement.name,
            reason=f"not pinned to one exact version ({spec}); pin it with == to scan it",
            location=where,
        )
