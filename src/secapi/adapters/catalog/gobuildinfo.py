"""A Go executable's build info (Go ≥ 1.18 layout) → the modules and standard library built into it.

The `.go.buildinfo` blob starts with a 32-byte header: the 14-byte magic, the pointer size, a flags byte
(0x2: strings inline) and padding. Inline, two varint-length-prefixed strings follow: the toolchain version
(`go1.21.5`) and the module info, framed by 16 sentinel bytes at both ends, one tab-separated line per
`path`, `mod`, `dep`, `=>` (a replacement of the line before) or `build` setting. Older toolchains wrote
pointers into the data segment instead, which a forward-only stream cannot follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from secapi.domain.inventory import GO_MODULE, PackageRecord

HEADER_SIZE = 32
_INLINE_STRINGS = 0x2
_SENTINEL = 16
_MAX_VARINT = 10
_TOOLCHAIN = re.compile(r"go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?")

Fetch = Callable[[int], bytes]
"""The first `size` bytes of the build info (from its magic on), fewer when the file ends sooner."""


class OldGoBuildInfo(ValueError):
    """Build info in the pointer-based layout of Go before 1.18, not read."""


@dataclass(frozen=True, slots=True)
class GoModule:
    """One module line, with the replacement (`=>`) that followed it, if any."""

    path: str
    version: str
    replace: GoModule | None = None


@dataclass(frozen=True, slots=True)
class GoBuildInfo:
    """The toolchain version and the modules of one executable."""

    go_version: str
    main: GoModule | None
    deps: tuple[GoModule, ...]


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    for index in range(at, min(len(data), at + _MAX_VARINT)):
        value |= (data[index] & 0x7F) << shift
        if data[index] < 0x80:
            return value, index + 1
        shift += 7
    raise ValueError("Go build info is truncated or malformed")


def _string(fetch: Fetch, at: int) -> tuple[bytes, int]:
    """The varint-prefixed string at offset `at`, and the offset after it."""
    size, start = _varint(fetch(at + _MAX_VARINT), at)
    data = fetch(start + size)
    if len(data) < start + size:
        raise ValueError("Go build info is truncated or over the size read")
    return data[start:], start + size


def parse_go_build_info(fetch: Fetch) -> GoBuildInfo:
    """Parse build info; OldGoBuildInfo for the pre-1.18 layout, ValueError when malformed."""
    header = fetch(HEADER_SIZE)
    if len(header) < HEADER_SIZE:
        raise ValueError("Go build info is truncated")
    if not header[15] & _INLINE_STRINGS:
        raise OldGoBuildInfo("built with Go older than 1.18: build info not read")
    raw_version, after = _string(fetch, HEADER_SIZE)
    go_version = raw_version.decode("utf-8", errors="replace")
    if stdlib_version(go_version) is None and not go_version.startswith("devel "):
        raise ValueError(f"Go build info names no toolchain version ({go_version[:40]!r})")
    modinfo, _ = _string(fetch, after)
    # The sentinels are not UTF-8: cut them off before decoding.
    if modinfo and (len(modinfo) < 2 * _SENTINEL or modinfo[-_SENTINEL - 1 :][:1] != b"\n"):
        raise ValueError("Go build info has no module information framed as Go writes it")
    main, deps = _modules(modinfo[_SENTINEL:-_SENTINEL].decode("utf-8", errors="replace"))
    return GoBuildInfo(go_version=go_version, main=main, deps=deps)


def _modules(modinfo: str) -> tuple[GoModule | None, tuple[GoModule, ...]]:
    main: GoModule | None = None
    deps: list[GoModule] = []
    for line in modinfo.splitlines():
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        module = GoModule(path=fields[0], version=fields[1] if len(fields) > 1 else "")
        if kind == "mod":
            main = module
        elif kind == "dep":
            deps.append(module)
        elif kind == "=>" and deps:
            deps[-1] = GoModule(deps[-1].path, deps[-1].version, replace=module)
    return main, tuple(deps)


def stdlib_version(go_version: str) -> str | None:
    """`go1.21.5` → `1.21.5`, `go1.20` → `1.20.0`, `go1.22rc1` → `1.22.0-rc.1`; None for a devel toolchain."""
    match = _TOOLCHAIN.fullmatch(go_version.split(" ")[0])
    if match is None:
        return None
    major, minor, patch, pre, pre_number = match.groups()
    version = f"{major}.{minor}.{patch or 0}"
    return f"{version}-{pre}.{pre_number}" if pre else version


def _is_local(module: GoModule) -> bool:
    # A replacement by a directory has no version; its path starts with ./, ../ or /.
    return not module.version or module.path.startswith(("./", "../", "/"))


def _record(path: str, version: str) -> PackageRecord:
    purl = f"pkg:golang/{quote(path, safe='/')}@{quote(version, safe='')}"
    return PackageRecord(kind=GO_MODULE, name=path, version=version, purl=purl)


@dataclass(frozen=True, slots=True)
class GoPackages:
    """What an executable's build info yields: packages, and what could not be made one."""

    records: tuple[PackageRecord, ...]
    local_replacements: tuple[str, ...]
    """`path => directory` for each module replaced by a local directory (no version to match)."""
    devel_toolchain: str | None
    """The toolchain version when it is no release (`devel go1.22-abc`): no `stdlib` package then."""
    unversioned_main: str | None = None
    """The main module's path when it was built without a version (`(devel)`, or none): it is no package."""
    outside_modules: bool = False
    """No main module at all: built in GOPATH mode, where the packages compiled in are not recorded."""


def go_packages(info: GoBuildInfo) -> GoPackages:
    """The main module (unless `(devel)`), each dependency as replaced, and the standard library as `stdlib`."""
    records: list[PackageRecord] = []
    local: list[str] = []
    unversioned_main = None
    if info.main is not None and info.main.version and info.main.version != "(devel)":
        records.append(_record(info.main.path, info.main.version))
    elif info.main is not None and info.main.path:
        unversioned_main = info.main.path
    for dep in info.deps:
        module = dep.replace or dep
        if _is_local(module):
            local.append(f"{dep.path} => {module.path}")
        else:
            records.append(_record(module.path, module.version))
    stdlib = stdlib_version(info.go_version)
    if stdlib is not None:
        records.append(_record("stdlib", stdlib))
    devel = info.go_version if stdlib is None else None
    return GoPackages(
        records=tuple(records),
        local_replacements=tuple(local),
        devel_toolchain=devel,
        unversioned_main=unversioned_main,
        outside_modules=info.main is None,
    )
