"""Matching installed packages against the vulnerability store: one query per scan, versions in Python."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from secapi.domain.advisories import Candidate, normalize_ecosystem
from secapi.domain.findings import Finding, PackageRef, sort_findings
from secapi.domain.osv_ranges import fixed_versions, is_affected, normalize_package_name
from secapi.domain.packages import Package
from secapi.domain.ports import VulnerabilityStore


def lookup_key(package: Package) -> tuple[str, str]:
    """(ecosystem, normalised name) under which advisories for `package` are filed.

    Distro advisories are filed under the source package (dpkg `Source:`, apk
    origin), so a binary package is looked up by its source name.
    """
    ecosystem = normalize_ecosystem(package.ecosystem)
    name = package.source_name or package.name
    return ecosystem, normalize_package_name(ecosystem, name)


def matched_version(package: Package) -> str:
    """The version compared with advisory ranges: the source version for distro packages that have one."""
    return package.source_version or package.version


class VulnerabilityMatcher:
    """Finds the advisories affecting each package."""

    def __init__(self, store: VulnerabilityStore) -> None:
        self._store = store

    async def match(self, packages: Iterable[Package]) -> tuple[Finding, ...]:
        """Findings for `packages`, one per (package, advisory), most severe first."""
        by_key: dict[tuple[str, str], list[Package]] = defaultdict(list)
        for package in packages:
            by_key[lookup_key(package)].append(package)
        if not by_key:
            return ()
        candidates = await self._store.candidates(list(by_key))
        return sort_findings(self._evaluate(by_key, candidates))

    @staticmethod
    def _evaluate(by_key: dict[tuple[str, str], list[Package]], candidates: Sequence[Candidate]) -> list[Finding]:
        findings: dict[tuple[str, str, str, str], Finding] = {}  # one per (package, advisory)
        for candidate in candidates:
            for package in by_key.get((candidate.ecosystem, candidate.name), ()):
                version = matched_version(package)
                identity = (package.ecosystem, package.name, package.version, candidate.advisory.id)
                if identity in findings or not is_affected(candidate.ecosystem, version, candidate.ranges):
                    continue
                advisory = candidate.advisory
                findings[identity] = Finding(
                    id=advisory.id,
                    aliases=advisory.aliases,
                    package=PackageRef(
                        name=package.name, version=package.version, ecosystem=package.ecosystem, purl=package.purl
                    ),
                    installed_version=package.version,
                    fixed_versions=fixed_versions(candidate.ranges),
                    severity=advisory.severity,
                    score=advisory.score,
                    vector=advisory.vector,
                    summary=advisory.summary,
                    references=advisory.references,
                    published=advisory.published,
                    modified=advisory.modified,
                    location=package.location,
                )
        return list(findings.values())
