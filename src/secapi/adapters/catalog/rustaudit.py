"""cargo-auditable's dependency list (the `.dep-v0` section) → the crates.io crates built into a Rust executable.

The section is zlib-compressed JSON, `{"packages": [{"name", "version", "source", "kind", "dependencies",
"root"}]}`, one entry per crate in the build graph. `source` is `crates.io`, `git`, `local`, `registry` or
another registry's name; only crates.io releases have versions OSV's `crates.io` ecosystem speaks of.

Build-only crates (`"kind": "build"`: build scripts, proc macros and what only they use) are not reported:
they run on the build machine and no code of theirs is in the executable, so an advisory against one does not
describe the executable. Trivy (`pkg/dependency/parser/rust/binary`) and Syft drop them likewise, and
osv-scalibr's cargoauditable extractor reports them only when its `extractBuildDependencies` option is set.

Hostile input is bounded twice: callers hand over at most `MAX_COMPRESSED` bytes, and inflating stops at
`MAX_JSON` (rust-audit-info's default limit), so a small section that inflates to gigabytes is refused
after 8 MiB. Nothing here raises except `RustAuditError`, whose message says why the list was not read.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from urllib.parse import quote

import msgspec

from secapi.domain.inventory import CARGO, PackageRecord

MAX_COMPRESSED = 1024 * 1024
"""Section bytes read: real lists are a few KiB (uv's 567 crates: 9.6 KiB)."""
MAX_JSON = 8 * 1024 * 1024
"""Bytes inflated before giving up (uv's list: 53 KiB)."""
CRATES_IO = "crates.io"
_BUILD = "build"


class RustAuditError(ValueError):
    """A `.dep-v0` section that is not a dependency list SecAPI can read; the message says why."""


class _Crate(msgspec.Struct, frozen=True):
    # Unknown fields are allowed: cargo-auditable may add some (its format is not declared stable).
    name: str
    version: str
    source: str
    kind: str = "runtime"
    dependencies: list[int] = msgspec.field(default_factory=list)
    root: bool = False


class _DependencyList(msgspec.Struct, frozen=True):
    packages: list[_Crate]


_DECODER = msgspec.json.Decoder(_DependencyList)


@dataclass(frozen=True, slots=True)
class RustPackages:
    """What a dependency list yields: crates.io packages, and the crates that could not be made one."""

    records: tuple[PackageRecord, ...]
    unmatchable: tuple[str, ...]
    """`name version (source)` for each runtime crate not from crates.io (no advisory source to match)."""


def inflate(section: bytes) -> bytes:
    """The JSON a section holds; RustAuditError when it is not a zlib stream or inflates past `MAX_JSON`."""
    if len(section) > MAX_COMPRESSED:
        raise RustAuditError(
            f"its dependency list is {len(section):,} bytes compressed, over the {MAX_COMPRESSED:,} read"
        )
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(section, MAX_JSON)
    except zlib.error as exc:
        raise RustAuditError(f"its dependency list is not zlib-compressed data ({exc})") from None
    if inflater.unconsumed_tail or (len(data) >= MAX_JSON and not inflater.eof):
        raise RustAuditError(f"its dependency list inflates to more than {MAX_JSON:,} bytes, the most read")
    if not inflater.eof:
        raise RustAuditError("its dependency list is truncated")
    return data  # bytes after the stream (PE and Mach-O pad sections) are not part of it


def read_dependency_list(section: bytes) -> RustPackages:
    """The runtime crates of a `.dep-v0` section: crates.io ones as `cargo` packages, the others named."""
    try:
        crates = _DECODER.decode(inflate(section)).packages
    except msgspec.ValidationError as exc:
        raise RustAuditError(f"its dependency list is not in cargo-auditable's format ({exc})") from None
    except msgspec.DecodeError:
        raise RustAuditError("its dependency list is not valid JSON") from None
    records: list[PackageRecord] = []
    unmatchable: list[str] = []
    for crate in crates:
        if crate.kind == _BUILD:
            continue
        if crate.source == CRATES_IO and crate.name and crate.version:
            purl = f"pkg:cargo/{quote(crate.name, safe='')}@{quote(crate.version, safe='')}"
            records.append(PackageRecord(kind=CARGO, name=crate.name, version=crate.version, purl=purl))
        else:
            own = ", the executable's own crate" if crate.root else ""
            unmatchable.append(f"{crate.name[:100]} {crate.version[:60]} ({crate.source[:60]}{own})")
    return RustPackages(records=tuple(records), unmatchable=tuple(unmatchable))
