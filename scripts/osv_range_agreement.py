"""Range-vs-versions agreement: does range evaluation alone cover every version a record lists?

For every `affected` entry of a real OSV database that has both ECOSYSTEM or
SEMVER `ranges` and an enumerated `versions` list, each listed version is
evaluated with `secapi.domain.osv_ranges.is_affected` against the ranges only
(an `AffectedRanges` whose `versions` is empty). A listed version the ranges do
not cover is a disagreement; the script sorts disagreements into causes (a
version string the ecosystem's order cannot parse, events at one version, a
listed version outside the ranges, ...) so that whoever changes version
ordering or range evaluation sees which records move. The causes are
diagnosed with this script's own plain readings of the events, independent of
the rule `is_affected` implements.

`--reverse` adds the opposite check: versions of the same package listed by
any record of the database, which the ranges cover but the entry's list omits.

Inputs are directories or zip files of OSV JSON or YAML (pypa's advisory
database is YAML; timestamps are kept as written). Output is deterministic
apart from the date line: a table on stdout and, with `--markdown`, a report.

    .venv/bin/python scripts/osv_range_agreement.py /tmp/osvdata/pypa/vulns \\
        /tmp/osvdata/govulndb/data/osv /tmp/osvdata/rustsec/crates \\
        --source-note "pypa/advisory-database@<commit>" --markdown docs/osv-range-agreement.md
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from secapi.domain.advisories import AffectedEntry, OsvRecordError
from secapi.domain.osv_ranges import AffectedRanges, Range, is_affected
from secapi.domain.osv_records import parse_osv_record
from secapi.domain.versions import SEMVER, VersionScheme, scheme_for_ecosystem

_SUFFIXES = (".json", ".yaml", ".yml")
_EVALUABLE = ("ECOSYSTEM", "SEMVER")
_MAX_IDS = 25
_SEMVER = re.compile(
    r"v?(?P<core>\d+\.\d+\.\d+)(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_NUGET = re.compile(r"(?P<core>\d+(?:\.\d+){0,3})(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")

Bound = tuple[str, str]  # (event kind, version)


class _OsvYamlLoader(yaml.CSafeLoader):
    """libyaml's safe loader, but timestamps stay the strings they are in the file (OSV wants RFC 3339 text)."""


_OsvYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


# ---- reading -----------------------------------------------------------------------------------------------


def _documents(source: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every JSON or YAML file under a directory or in a zip, in name order."""
    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.suffix in _SUFFIXES and p.is_file()):
            yield str(path.relative_to(source)), path.read_bytes()
    else:
        with zipfile.ZipFile(source) as archive:
            for name in sorted(n for n in archive.namelist() if n.endswith(_SUFFIXES)):
                yield name, archive.read(name)


def _decode(name: str, raw: bytes) -> Any:
    if name.endswith(".json"):
        return json.loads(raw)
    return yaml.load(raw, Loader=_OsvYamlLoader)  # noqa: S506 - a SafeLoader subclass without timestamps


# ---- version strings ---------------------------------------------------------------------------------------


def _parses(scheme: VersionScheme, version: str) -> bool:
    """Whether the scheme's grammar accepts `version`; True where this script knows no stricter grammar."""
    if scheme.name == "pep440":
        try:
            Version(version)
        except InvalidVersion:
            return False
        return True
    if scheme.name == "semver":
        return _SEMVER.fullmatch(version) is not None
    if scheme.name == "nuget":
        return _NUGET.fullmatch(version) is not None
    return True


def _prerelease_of(scheme: VersionScheme, version: str, release: str) -> bool:
    """Whether `version` is a pre-release (or dev release) leading up to `release`."""
    if scheme.name == "pep440":
        try:
            mine, theirs = Version(version), Version(release)
        except InvalidVersion:
            return False
        return (mine.is_prerelease or mine.is_devrelease) and mine.release == theirs.release and mine < theirs
    grammar = _NUGET if scheme.name == "nuget" else _SEMVER
    mine_match, theirs_match = grammar.fullmatch(version), grammar.fullmatch(release)
    if mine_match is None or theirs_match is None:
        return version.startswith(release) and scheme.compare(version, release) < 0
    return mine_match["core"] == theirs_match["core"] and mine_match["pre"] is not None and theirs_match["pre"] is None


# ---- diagnosing one entry ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RangeView:
    scheme: VersionScheme
    events: tuple[Bound, ...]  # record order


def _range_views(ecosystem: str, ranges: Sequence[Range]) -> tuple[_RangeView, ...]:
    own = scheme_for_ecosystem(ecosystem)
    views = []
    for rng in ranges:
        if rng.type not in _EVALUABLE:
            continue
        events = tuple(kv for event in rng.events if (kv := event.kind_and_version) is not None)
        views.append(_RangeView(SEMVER if rng.type == "SEMVER" else own, events))
    return tuple(views)


def _at_least(scheme: VersionScheme, version: str, bound: str) -> bool:
    return bound == "0" or scheme.compare(version, bound) >= 0


def _pairwise_covers(view: _RangeView, version: str) -> bool:
    """The reading that pairs each `introduced` with the next closing event in record order."""
    opened: str | None = None
    for kind, bound in view.events:
        if kind == "introduced":
            opened = bound
        elif kind in ("fixed", "last_affected") and opened is not None:
            order = view.scheme.compare(version, bound)
            if _at_least(view.scheme, version, opened) and (order < 0 or (order == 0 and kind == "last_affected")):
                return True
            opened = None
    return opened is not None and _at_least(view.scheme, version, opened)


def _open_ended(view: _RangeView) -> bool:
    """Whether the last `introduced` in record order has no closing event after it."""
    kinds = [kind for kind, _ in view.events if kind != "limit"]
    return bool(kinds) and kinds[-1] == "introduced"


def _has_same_version_events(view: _RangeView) -> bool:
    bounds = [bound for kind, bound in view.events if kind != "limit" and bound != "0"]
    return any(view.scheme.compare(a, b) == 0 for n, a in enumerate(bounds) for b in bounds[n + 1 :])


def classify_listed(ecosystem: str, ranges: Sequence[Range], version: str) -> str:
    """Why range evaluation does not cover a version the entry lists."""
    views = _range_views(ecosystem, ranges)
    if not views:
        return "no ECOSYSTEM or SEMVER range to evaluate"
    if all(view.scheme.name == "generic" for view in views):
        return "ecosystem without a known version order"
    if any(not _parses(view.scheme, version) for view in views):
        return "listed version the ecosystem order cannot parse"
    if any(not _parses(view.scheme, bound) for view in views for _, bound in view.events if bound not in ("0", "*")):
        return "range event the ecosystem order cannot parse"
    if any(_has_same_version_events(view) for view in views):
        if any(_pairwise_covers(view, version) for view in views):
            return "same-version events (a record-order pairwise reading covers it)"
        return "same-version events (no reading covers it)"
    if any(kind == "limit" for view in views for kind, _ in view.events):
        return "excluded by a `limit` event"
    if any(_pairwise_covers(view, version) for view in views):
        # Intervals that overlap inside one range: the sorted walk closes at the first `fixed` above.
        return "overlapping intervals in one range (a record-order pairwise reading covers it)"
    view = views[0]
    scheme, events = view.scheme, view.events
    introduced = [bound for kind, bound in events if kind == "introduced"]
    closing = [bound for kind, bound in events if kind in ("fixed", "last_affected")]
    if any(scheme.compare(version, bound) == 0 for kind, bound in events if kind == "fixed"):
        return "data quirk: listed version equals a `fixed` version"
    if any(_prerelease_of(scheme, version, bound) for bound in introduced if bound != "0"):
        return "data quirk: listed pre-release of an `introduced` version"
    if "0" not in introduced and all(scheme.compare(version, bound) < 0 for bound in introduced):
        return "data quirk: listed version below the first `introduced`"
    if closing and all(scheme.compare(version, bound) > 0 for _, bound in events if bound != "0"):
        return "data quirk: listed version above every event"
    return "data quirk: listed version between a `fixed` and the next `introduced`"


def classify_omitted(ecosystem: str, ranges: Sequence[Range], version: str) -> str:
    """Why range evaluation covers a version (known for the package) that the entry does not list."""
    views = _range_views(ecosystem, ranges)
    scheme = views[0].scheme if views else scheme_for_ecosystem(ecosystem)
    if not _parses(scheme, version):
        return "omitted version the ecosystem order cannot parse"
    if any(_has_same_version_events(view) for view in views):
        if any(_pairwise_covers(view, version) for view in views):
            return "same-version events; an explicit interval covers it (the list omits it)"
        return "same-version events; only the tie rule covers it"
    if scheme.name == "pep440" and (Version(version).is_prerelease or Version(version).is_devrelease):
        return "omitted pre-release inside a range"
    if any(_pairwise_covers(view, version) and _open_ended(view) for view in views):
        return "omitted release in an open-ended range (the list predates it)"
    return "omitted release below a fix (e.g. a later backport on an older branch)"


# ---- the evaluation ----------------------------------------------------------------------------------------


@dataclass
class EcosystemTally:
    """Counts and disagreeing record ids for one ecosystem."""

    sources: set[str] = field(default_factory=set)
    affected: int = 0
    entries: int = 0
    versions: int = 0
    agreeing: int = 0
    causes: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    reverse_versions: int = 0
    reverse_causes: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))


@dataclass
class Evaluation:
    """The whole run: per-ecosystem tallies plus what could not be read."""

    tallies: dict[str, EcosystemTally] = field(default_factory=lambda: defaultdict(EcosystemTally))
    records: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rejected: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    git_only: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _checkable(entry: AffectedEntry) -> bool:
    return bool(entry.ranges.versions) and any(rng.type in _EVALUABLE for rng in entry.ranges.ranges)


def _read_entries(sources: Sequence[tuple[str, Path]], run: Evaluation) -> list[tuple[str, str, AffectedEntry]]:
    """(source label, record id, entry) for every entry with both a versions list and evaluable ranges."""
    found = []
    for label, source in sources:
        for name, raw in _documents(source):
            try:
                document = _decode(name, raw)
                if not isinstance(document, dict) or "id" not in document:
                    continue
                advisory = parse_osv_record(document)
            except (OsvRecordError, ValueError, yaml.YAMLError) as exc:
                run.rejected[label].append(f"{name}: {exc}")
                continue
            run.records[label] += 1
            for entry in advisory.affected:
                run.tallies[entry.ecosystem].affected += 1
                run.tallies[entry.ecosystem].sources.add(label)
                if _checkable(entry):
                    found.append((label, advisory.id, entry))
                elif entry.ranges.versions and entry.ranges.ranges:
                    run.git_only[entry.ecosystem] += 1
    return found


def evaluate(sources: Sequence[tuple[str, Path]], *, reverse: bool) -> Evaluation:
    """Check every listed version against range evaluation alone (and, with `reverse`, the opposite)."""
    run = Evaluation()
    entries = _read_entries(sources, run)
    known: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _, _, entry in entries:
        known[entry.ecosystem, entry.name].update(entry.ranges.versions)
    for _, record_id, entry in entries:
        tally = run.tallies[entry.ecosystem]
        tally.entries += 1
        ranges_only = AffectedRanges(ranges=entry.ranges.ranges)
        for version in entry.ranges.versions:
            tally.versions += 1
            if is_affected(entry.ecosystem, version, ranges_only):
                tally.agreeing += 1
            else:
                tally.causes[classify_listed(entry.ecosystem, entry.ranges.ranges, version)][record_id] += 1
        if reverse:
            listed = set(entry.ranges.versions)
            for version in sorted(known[entry.ecosystem, entry.name] - listed):
                if is_affected(entry.ecosystem, version, ranges_only):
                    tally.reverse_versions += 1
                    cause = classify_omitted(entry.ecosystem, entry.ranges.ranges, version)
                    tally.reverse_causes[cause][record_id] += 1
    return run


# ---- reporting ---------------------------------------------------------------------------------------------


def _ids(records: dict[str, int]) -> str:
    ordered = sorted(records)
    shown = ", ".join(ordered[:_MAX_IDS])
    return shown + (f", … and {len(ordered) - _MAX_IDS} more" if len(ordered) > _MAX_IDS else "")


def _disagreeing(tally: EcosystemTally) -> int:
    return len({record for records in tally.causes.values() for record in records})


def _summary_rows(run: Evaluation) -> list[list[str]]:
    rows = []
    for ecosystem in sorted(run.tallies, key=str.lower):
        tally = run.tallies[ecosystem]
        share = f"{100 * tally.agreeing / tally.versions:.2f}" if tally.versions else "–"
        rows.append(
            [
                ecosystem,
                ", ".join(sorted(tally.sources)),
                str(tally.affected),
                str(tally.entries),
                str(tally.versions),
                str(tally.agreeing),
                share,
                str(_disagreeing(tally)),
            ]
        )
    return rows


_HEADER = [
    "ecosystem",
    "source",
    "affected entries",
    "entries checked",
    "versions checked",
    "versions agreeing",
    "agreement %",
    "records disagreeing",
]


def _cause_lines(title: str, causes: dict[str, dict[str, int]]) -> list[str]:
    if not causes:
        return []
    lines = [f"{title}\n", "| cause | versions | records | record ids |", "|---|---:|---:|---|"]
    for cause in sorted(causes, key=lambda c: (-sum(causes[c].values()), c)):
        records = causes[cause]
        lines.append(f"| {cause} | {sum(records.values())} | {len(records)} | {_ids(records)} |")
    return [*lines, ""]


def render_markdown(run: Evaluation, *, command: str, notes: Sequence[str], reverse: bool) -> str:
    """The report: how it was produced, the per-ecosystem table, then the disagreements by cause."""
    lines = [
        "# OSV range-vs-versions agreement",
        "",
        "For every `affected` entry that has both ECOSYSTEM/SEMVER `ranges` and a `versions` list, each listed",
        "version is evaluated by `secapi.domain.osv_ranges.is_affected` against the ranges alone. A listed version",
        "the ranges do not cover is a disagreement. Produced by `scripts/osv_range_agreement.py`.",
        "",
        "Causes are diagnosed by the script's own plain readings, independent of the rule `is_affected` applies:",
        '"data quirk" means the record\'s own `versions` list holds a version its ranges exclude under any reading;',
        '"pairwise reading" pairs each `introduced` with the next closing event in record order. The reverse',
        "check (with `--reverse`) takes every version any record lists for the same package and reports those the",
        "ranges cover but the entry's list omits. Only PyPI records carry `versions` lists here: the Go and RustSec",
        "OSV exports have none (RustSec writes `versions: []`), so their rows check nothing.",
        "",
        f"- Date: {datetime.now(UTC).date().isoformat()}",
        f"- Command: `{command}`",
        *(f"- Data: {note}" for note in notes),
        f"- Records read: {', '.join(f'{label} {count}' for label, count in sorted(run.records.items()))}",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|---|---|" + "---:|" * (len(_HEADER) - 2),
        *("| " + " | ".join(row) + " |" for row in _summary_rows(run)),
        "",
    ]
    if run.git_only:
        counts = ", ".join(f"{eco} {n}" for eco, n in sorted(run.git_only.items()))
        lines += [f"Entries with `versions` but only GIT ranges (not checked): {counts}.", ""]
    for ecosystem in sorted(run.tallies, key=str.lower):
        tally = run.tallies[ecosystem]
        lines += _cause_lines(f"## {ecosystem}: listed versions the ranges do not cover", tally.causes)
        if reverse:
            title = f"## {ecosystem}: known versions the ranges cover but the list omits ({tally.reverse_versions})"
            lines += _cause_lines(title, tally.reverse_causes)
    for label, problems in sorted(run.rejected.items()):
        lines += [f"## {label}: records the parser rejects ({len(problems)})", ""]
        lines += [f"- {problem}" for problem in sorted(problems)] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _print_table(run: Evaluation) -> None:
    rows = [_HEADER, *_summary_rows(run)]
    widths = [max(len(row[n]) for row in rows) for n in range(len(_HEADER))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for ecosystem in sorted(run.tallies, key=str.lower):
        for cause, records in sorted(run.tallies[ecosystem].causes.items()):
            print(f"{ecosystem}: {cause}: {sum(records.values())} versions in {len(records)} records: {_ids(records)}")
        for cause, records in sorted(run.tallies[ecosystem].reverse_causes.items()):
            print(f"{ecosystem} (reverse): {cause}: {sum(records.values())} versions in {len(records)} records")
    for label, problems in sorted(run.rejected.items()):
        print(f"{label}: {len(problems)} records rejected by the parser")


def _labelled(argument: str) -> tuple[str, Path]:
    """`LABEL=PATH` or a bare `PATH` (labelled by its name)."""
    label, sep, path = argument.partition("=")
    if sep and label and "/" not in label:
        return label, Path(path)
    return Path(argument).name, Path(argument)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sources", nargs="+", type=_labelled, help="[LABEL=]PATH: a directory or zip of OSV records")
    parser.add_argument("--markdown", type=Path, help="also write the report here")
    parser.add_argument("--source-note", action="append", default=[], help="provenance line for the report")
    parser.add_argument("--reverse", action="store_true", help="also list known versions the ranges cover unlisted")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    run = evaluate(args.sources, reverse=args.reverse)
    _print_table(run)
    if args.markdown is not None:
        command = shlex.join(["scripts/osv_range_agreement.py", *(sys.argv[1:] if argv is None else argv)])
        report = render_markdown(run, command=command, notes=args.source_note, reverse=args.reverse)
        args.markdown.write_text(report, encoding="utf-8")
    print(f"done in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
