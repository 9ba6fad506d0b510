"""Matching installed packages against the vulnerability store: one query per scan, versions in Python.

A second query, only when some finding's own record has no CVSS score,
borrows severities from records sharing an alias (`severity_sources`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import msgspec

from secapi.domain.advisories import AdvisorySummary, Candidate, VulnDbVersion, normalize_ecosystem
from secapi.domain.errors import VulnDbEmpty
from secapi.domain.exploits import RiskSummary
from secapi.domain.findings import (
    EcosystemCoverage,
    Finding,
    PackageRef,
    ScanResult,
    Timings,
    VulnDbInfo,
    severity_counts,
    sort_findings,
)
from secapi.domain.model import ScanType
from secapi.domain.osv_ranges import AffectedRanges, fixed_versions, is_affected, normalize_package_name
from secapi.domain.packages import Package, UnscannableEntry, UnscannedItem
from secapi.domain.ports import VulnerabilityStore
from secapi.domain.services.exploit_intel import ExploitIntel
from secapi.domain.services.off_loop import OFF_LOOP_ITEMS, cpu_bound
from secapi.domain.severity_sources import identifiers, index_related, needs_borrowing, resolve
from secapi.domain.versions import scheme_for_ecosystem

VERSIONS_LIST_ONLY = "versions-list-only"
G = TypeVar("G")
Distinct = tuple[str, str, str, str | None, str | None]
"""A package's ecosystem, name, version, source name and source version."""


class Assessment(msgspec.Struct, frozen=True, kw_only=True):
    """What matching found: vulnerabilities, informational advisories, and the data it matched against."""

    vulnerabilities: tuple[Finding, ...]
    informational: tuple[Finding, ...]
    vulndb: VulnDbInfo
    risk: RiskSummary | None = None
    """Exploit risk of `vulnerabilities`; None when the matcher has no exploit data source."""

    def result(
        self,
        *,
        scan_type: ScanType,
        target: str,
        ecosystems: tuple[str, ...],
        packages: tuple[Package, ...],
        unscannable: tuple[UnscannableEntry, ...],
        version: int,
        timings: Timings,
        unscanned: tuple[UnscannedItem, ...] = (),
    ) -> ScanResult:
        """The result document of a scan of `packages` that this assessment matched against database `version`."""
        return ScanResult(
            scan_type=scan_type.value,
            target=target,
            ecosystems=ecosystems,
            packages=packages,
            unscannable=unscannable,
            unscanned=unscanned,
            vulnerabilities=self.vulnerabilities,
            counts=severity_counts(self.vulnerabilities),
            vulndb_version=version,
            timings=timings,
            informational=self.informational,
            vulndb=self.vulndb,
            risk=self.risk,
        )


def coverage(ecosystems: Iterable[str], version: VulnDbVersion) -> tuple[EcosystemCoverage, ...]:
    """For each scanned ecosystem: how many advisories it has and which version order matched them."""
    out = []
    for ecosystem in sorted({normalize_ecosystem(e) for e in set(ecosystems)}):  # each distinct name once
        scheme = scheme_for_ecosystem(ecosystem)
        advisories = None if version.ecosystems is None else version.ecosystems.get(ecosystem, 0)
        note = None
        if advisories is None:
            note = (
                f"the database version in force did not record its advisories per ecosystem: {ecosystem}'s is unknown"
            )
        elif advisories == 0:
            note = f"no advisories for {ecosystem} are loaded: its packages were not checked against any"
        elif not scheme.ordered:
            note = (
                f"no version order is known for {ecosystem}: only advisories listing the exact installed "
                "version match, ranges are not evaluated"
            )
        out.append(
            EcosystemCoverage(
                ecosystem=ecosystem,
                advisories=advisories,
                version_order=scheme.name if scheme.ordered else VERSIONS_LIST_ONLY,
                note=note,
            )
        )
    return tuple(out)


def _is_rpm(ecosystem: str) -> bool:
    return scheme_for_ecosystem(ecosystem).name == "rpm"


def lookup_key(package: Package) -> tuple[str, str]:
    """(ecosystem, normalised name) under which advisories for `package` are filed.

    Distro advisories are filed under the source package (dpkg `Source:`, apk
    origin), so a binary package is looked up by its source name; RPMs are
    looked up by their own name first (`lookup_keys`).
    """
    ecosystem = normalize_ecosystem(package.ecosystem)
    name = package.name if _is_rpm(ecosystem) else package.source_name or package.name
    return ecosystem, normalize_package_name(ecosystem, name)


def lookup_keys(package: Package) -> tuple[tuple[str, str], ...]:
    """Every key advisories for `package` may be filed under.

    RPM distributions' OSV records name binary RPMs (AlmaLinux: `python3-libs`, never its source
    `python3.9`), source RPMs (SUSE and Rocky Linux, per OSV's ecosystem notes; Rocky's python38
    module advisories name `babel`, not `python38-babel`) or either (Red Hat), so an installed RPM is
    looked up under both its names; one advisory found both ways is still one finding.
    """
    first = lookup_key(package)
    if not _is_rpm(first[0]) or not package.source_name or package.source_name == package.name:
        return (first,)
    return first, (first[0], normalize_package_name(first[0], package.source_name))


_MODULE_BUILD = re.compile(r"\.module[_+]")
"""A module stream's build in an RPM release (`1.module_el9.1.0+16+91bc168f`, `1.module+el8.4.0+570+c2eaf144`)."""


def _other_stream(package: Package, group: Sequence[Candidate]) -> bool:
    """Whether an RPM advisory is for another module stream than the package's, so it cannot apply.

    RPM distributions ship several streams of one package (nodejs 18 and 20 on AlmaLinux 9), and OSV
    records name the stream only in their summary (`Important: nodejs:20 security update`): a package
    of a stream the summary does not name is not matched. A package from no stream is not fixed by
    module builds, so an advisory whose every fix is one does not apply to it either.
    """
    if not _is_rpm(package.ecosystem):
        return False
    label = _rpm_module(package.purl)
    if label is None:
        fixes = [e.fixed for c in group for r in c.ranges.ranges for e in r.events if e.fixed is not None]
        return bool(fixes) and all(_MODULE_BUILD.search(fix) for fix in fixes)
    module, _, rest = label.partition(":")
    stream = rest.partition(":")[0]
    named = set(re.findall(rf"(?<![\w.+-]){re.escape(module)}:([\w.+-]+)", group[0].advisory.summary))
    return bool(named) and stream not in named


def _rpm_module(purl: str | None) -> str | None:
    """The `rpmmod` qualifier of an rpm purl (`nodejs:18:9030020231120082734:rhel9`)."""
    if not purl or not purl.startswith("pkg:rpm/"):
        return None
    values = parse_qs(urlsplit(purl).query).get("rpmmod")
    return values[0] if values else None


def _by_lookup_key(packages: Iterable[Package]) -> dict[tuple[str, str], list[Package]]:
    by_key: dict[tuple[str, str], list[Package]] = defaultdict(list)
    for package in packages:
        for key in lookup_keys(package):
            by_key[key].append(package)
    return by_key


def matched_version(package: Package) -> str:
    """The version compared with advisory ranges: the source version for distro packages that have one;
    an RPM's own (a binary and its source RPM share version and release, and only the binary's carries
    the epoch)."""
    if _is_rpm(package.ecosystem):
        return package.version
    return package.source_version or package.version


class VulnerabilityMatcher:
    """Finds the advisories affecting each package."""

    def __init__(self, store: VulnerabilityStore, exploits: ExploitIntel | None = None) -> None:
        self._store = store
        self._exploits = exploits

    async def match(self, packages: Iterable[Package]) -> tuple[Finding, ...]:
        """Vulnerability findings for `packages`, one per (package, advisory), most severe first."""
        vulnerabilities, _ = await self._findings(packages)
        return vulnerabilities

    async def assess(self, packages: Sequence[Package], *, ecosystems: Iterable[str] = ()) -> Assessment:
        """Match `packages`, refusing (`VulnDbEmpty`) when no advisories are loaded: that answer is not earned.

        The coverage covers the packages' ecosystems and `ecosystems` (a lockfile's, even with no packages).
        """
        version = await self._store.current_version()
        if version.version == 0 or version.advisories == 0:
            raise VulnDbEmpty
        vulnerabilities, informational = await self._findings(packages)
        risk = None
        if self._exploits is not None:  # EPSS and KEV on the findings, one lookup; the order becomes risk order
            vulnerabilities, risk = await self._exploits.enrich(vulnerabilities)
        return Assessment(
            vulnerabilities=vulnerabilities,
            informational=informational,
            risk=risk,
            vulndb=VulnDbInfo(
                version=version.version,
                updated_at=version.updated_at,
                ecosystems=coverage({*ecosystems, *(p.ecosystem for p in packages)}, version),
            ),
        )

    async def _findings(self, packages: Iterable[Package]) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
        packages = tuple(packages)
        # Normalising 100,000 names held the event loop for ~0.3 s: a large list is grouped in a thread.
        by_key = await cpu_bound(len(packages) >= OFF_LOOP_ITEMS, _by_lookup_key, packages)
        if not by_key:
            return (), ()
        candidates = await self._store.candidates(list(by_key))
        found = self._evaluate(by_key, candidates)
        unscored = [f for f in found if needs_borrowing(f) and f.informational is None]
        related = index_related(await self._store.related_severities(identifiers(unscored)) if unscored else ())
        found = [f if f.informational is not None else resolve(f, related) for f in found]
        return (
            sort_findings([f for f in found if f.informational is None]),
            sort_findings([f for f in found if f.informational is not None]),
        )

    async def match_by_key(
        self, groups: Mapping[G, tuple[tuple[str, str], Sequence[Package]]]
    ) -> dict[G, tuple[Finding, ...]]:
        """Vulnerability findings of many package groups at once, each group matched only through its own key.

        A group is (lookup key, packages filed under it), e.g. one watched inventory's packages under one
        (ecosystem, name). Every group is answered from ONE candidates query over the union of the keys,
        and each distinct package (ecosystem, name, version, source) is evaluated once per key however many
        groups hold it: re-matching 10,000 inventories costs what matching their distinct packages costs.
        """
        by_key: dict[tuple[str, str], dict[Distinct, Package]] = defaultdict(dict)
        for key, packages in groups.values():
            distinct = by_key[key]
            for package in packages:
                distinct.setdefault(_distinct(package), package)
        if not by_key:
            return {}
        candidates = await self._store.candidates(list(by_key))
        found = await cpu_bound(len(candidates) >= OFF_LOOP_ITEMS, _evaluate_by_key, by_key, candidates)
        unscored = [f for fs in found.values() for f in fs if needs_borrowing(f) and f.informational is None]
        related = index_related(await self._store.related_severities(identifiers(unscored)) if unscored else ())
        # Each finding is resolved once and filed by package; a group then only gathers its packages' lists.
        by_package: dict[tuple[str, str], dict[tuple[str, str, str], list[Finding]]] = {}
        for key, findings in found.items():
            filed: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
            for finding in findings:
                if finding.informational is None:
                    ref = finding.package
                    filed[(ref.ecosystem, ref.name, ref.version)].append(resolve(finding, related))
            by_package[key] = {identity: list(sort_findings(found)) for identity, found in filed.items()}
        out: dict[G, tuple[Finding, ...]] = {}
        for group, (key, packages) in groups.items():
            of_key = by_package.get(key)
            if not of_key:
                out[group] = ()
            elif len(packages) == 1:  # the usual group: one package under its key, its findings already sorted
                only = packages[0]
                out[group] = tuple(of_key.get((only.ecosystem, only.name, only.version), ()))
            else:
                held = {(p.ecosystem, p.name, p.version) for p in packages}
                out[group] = sort_findings([f for identity in held for f in of_key.get(identity, ())])
        return out

    async def advisories_naming(
        self, queries: Mapping[G, tuple[Package, bool]]
    ) -> dict[G, tuple[AdvisorySummary, ...]]:
        """The non-withdrawn advisories of each query's package, informational ones included, ordered by id.

        A query is (package, any version): with False, those affecting the package's version by the
        scans' own rule (`_evaluate`: the same advisories a scan of that package finds); with True, every
        advisory naming the package whatever its version. All queries are answered from ONE candidates query.
        """
        keys = {group: lookup_keys(package) for group, (package, _) in queries.items()}
        wanted = {key for group_keys in keys.values() for key in group_keys}
        per_key: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
        for candidate in await self._store.candidates(list(wanted)) if wanted else ():
            per_key[(candidate.ecosystem, candidate.name)].append(candidate)
        out: dict[G, tuple[AdvisorySummary, ...]] = {}
        for group, (package, any_version) in queries.items():
            found: dict[str, AdvisorySummary] = {}
            for key in keys[group]:
                named = per_key.get(key, [])
                if any_version:
                    found.update((c.advisory.id, c.advisory) for c in named)
                    continue
                affecting = {finding.id for finding in self._evaluate({key: [package]}, named)}
                found.update((c.advisory.id, c.advisory) for c in named if c.advisory.id in affecting)
            out[group] = tuple(found[advisory_id] for advisory_id in sorted(found))
        return out

    @staticmethod
    def _evaluate(by_key: dict[tuple[str, str], list[Package]], candidates: Sequence[Candidate]) -> list[Finding]:
        # An advisory may name one package in several affected entries (GHSA lists urllib3's 1.x and
        # 2.x branches apart): any entry affecting the version makes the finding, and the fixes of
        # every entry are the upgrade choices.
        entries: dict[tuple[str, str, str], list[Candidate]] = defaultdict(list)
        for candidate in candidates:
            entries[(candidate.ecosystem, candidate.name, candidate.advisory.id)].append(candidate)
        findings: dict[tuple[str, str, str, str], Finding] = {}  # one per (package, advisory)
        for (ecosystem, name, advisory_id), group in entries.items():
            for package in by_key.get((ecosystem, name), ()):
                version = matched_version(package)
                identity = (package.ecosystem, package.name, package.version, advisory_id)
                if identity in findings or not any(is_affected(ecosystem, version, c.ranges) for c in group):
                    continue
                if _other_stream(package, group):
                    continue
                findings[identity] = _finding(package, group, ecosystem, version)
        return list(findings.values())


def _distinct(package: Package) -> Distinct:
    """What decides a package's findings (its location does not): one evaluation serves every copy."""
    return (package.ecosystem, package.name, package.version, package.source_name, package.source_version)


def _evaluate_by_key(
    by_key: Mapping[tuple[str, str], Mapping[Distinct, Package]], candidates: Sequence[Candidate]
) -> dict[tuple[str, str], list[Finding]]:
    """`VulnerabilityMatcher._evaluate` key by key, so each finding is attributed to the key it was found under."""
    per_key: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        per_key[(candidate.ecosystem, candidate.name)].append(candidate)
    return {
        key: VulnerabilityMatcher._evaluate({key: list(by_key[key].values())}, group)
        for key, group in per_key.items()
        if key in by_key
    }


def _finding(package: Package, group: list[Candidate], ecosystem: str, version: str) -> Finding:
    advisory = group[0].advisory
    ranges = group[0].ranges
    if len(group) > 1:
        ranges = AffectedRanges(ranges=tuple(rng for c in group for rng in c.ranges.ranges))
    return Finding(
        id=advisory.id,
        aliases=advisory.aliases,
        package=PackageRef(name=package.name, version=package.version, ecosystem=package.ecosystem, purl=package.purl),
        installed_version=package.version,
        fixed_versions=fixed_versions(ranges, ecosystem, version),
        severity=advisory.severity,
        score=advisory.score,
        vector=advisory.vector,
        summary=advisory.summary,
        references=advisory.references,
        published=advisory.published,
        modified=advisory.modified,
        location=package.location,
        informational=advisory.informational,
    )
