"""pip requirements files (`requirements.txt` and friends): exact `==`/`===` pins only."""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement

from secapi.adapters.lockfiles._common import line, lines, redact, translate_errors
from secapi.domain.lockfiles import LockfileParser, ParsedLockfile
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import pypi_purl

ECOSYSTEM = "PyPI"
_COMMENT = re.compile(r"(^|\s)#.*$")
_PER_REQUIREMENT_OPTIONS = re.compile(r"\s+(?=--?[A-Za-z])")
# The common pip-compile line, `name==1.2.3`, read without building a `Requirement` (the slow part).
# The version must be a PEP 440 release as pip accepts it, so a legacy `2.0.0-final` still takes the slow path.
_SIMPLE_PIN = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*==\s*"
    r"(?P<version>[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?)"
)
_LEADING_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EGG = re.compile(r"#(?:.*&)?egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_INCLUDE = "includes another requirements file that was not uploaded, so the packages it pins were not scanned"
_CONSTRAINT = "applies a constraints file that was not uploaded, so the versions it pins were not scanned"
_INCLUDES = {"-r": _INCLUDE, "--requirement": _INCLUDE, "-c": _CONSTRAINT, "--constraint": _CONSTRAINT}
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
# Options that configure pip (indexes, wheels, hashing) and name no package.
_SETTINGS_OPTIONS = frozenset(
    {
        "-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links", "--trusted-host", "--pre",
        "--no-binary", "--only-binary", "--prefer-binary", "--require-hashes", "--use-feature",
    }
)  # fmt: skip
_SHORT_OPTIONS_WITH_VALUE = ("-r", "-c", "-e", "-i", "-f")
_NOT_A_RELEASE = "installed from a URL, VCS or local path, not a released version on PyPI"

Found = Package | UnscannableEntry


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


def _url_entry(text: str, where: str, reason: str = _NOT_A_RELEASE) -> UnscannableEntry:
    egg = _EGG.search(text)
    return UnscannableEntry(name=egg[1] if egg else redact(text), reason=reason, location=where)


def _option(text: str, where: str) -> UnscannableEntry | None:
    option, value = _split_option(text)
    if option in _INCLUDES:
        return UnscannableEntry(name=value or text, reason=_INCLUDES[option], location=where)
    if option in _EDITABLE_OPTIONS:
        # `-e .` is usually the project itself, but it is installed all the same: say so, never drop it.
        reason = f"an editable install of {'a VCS checkout' if '://' in value else 'local code'}, not a release on PyPI"
        return _url_entry(value or text, where, reason)
    if option in _SETTINGS_OPTIONS:
        return None
    # pip refuses an option it does not know; whatever the line meant, it was not scanned.
    return UnscannableEntry(name=redact(text), reason=f"unknown pip option {option!r}", location=where)


def _requirement(text: str, where: str) -> Found:
    text = _PER_REQUIREMENT_OPTIONS.split(text, maxsplit=1)[0]
    simple = _SIMPLE_PIN.fullmatch(text)
    if simple is not None:
        return _package(simple["name"], simple["version"], where)
    if "${" in text:
        return UnscannableEntry(name=text, reason="uses an environment variable that is not known here", location=where)
    if _is_url_or_path(text):
        return _url_entry(text, where)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        leading = _LEADING_NAME.match(text)
        reason = f"not a valid requirement, so pip would refuse it: {str(exc).splitlines()[0]}"
        return UnscannableEntry(name=leading[0] if leading else redact(text), reason=reason, location=where)
    if requirement.url:
        return UnscannableEntry(name=requirement.name, reason=_NOT_A_RELEASE, location=where)
    pins = {s.version for s in requirement.specifier if s.operator in ("==", "===")}
    pins = {version for version in pins if not version.endswith(".*")}
    if len(pins) == 1:
        return _package(requirement.name, pins.pop(), where)
    spec = str(requirement.specifier) or "any version"
    reason = f"not pinned to one exact version ({spec}); pin it with == to scan it"
    return UnscannableEntry(name=requirement.name, reason=reason, location=where)


def _package(name: str, version: str, where: str) -> Package:
    return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=pypi_purl(name, version), location=where)


class RequirementsTxtParser(LockfileParser):
    """Reads pip requirements files; every line that names a package is scanned or reported, never dropped."""

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
                entry = _option(text, where) if text.startswith("-") else _requirement(text, where)
                if isinstance(entry, Package):
                    packages.append(entry)
                elif entry is not None:
                    unscannable.append(entry)
        return ParsedLockfile.of(ECOSYSTEM, packages, unscannable)
