"""R: renv's `renv.lock` packages from CRAN (and its Posit Package Manager mirrors)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from secapi.adapters.lockfiles._common import (
    Entry,
    EntryParser,
    StructureError,
    as_list,
    as_mapping,
    field,
    keyed,
    load_json,
    optional_field,
    redact,
    section,
    unreadable,
)
from secapi.domain.packages import Package, UnscannableEntry
from secapi.domain.purl import cran_purl

ECOSYSTEM = "CRAN"
# Repository names renv writes for CRAN itself and for Posit Package Manager, which serves CRAN's releases.
_CRAN_NAMES = frozenset({"CRAN", "RSPM", "PPM", "P3M"})
_CRAN_HOSTS = ("cran.", "cloud.r-project.org", "packagemanager.posit.co", "packagemanager.rstudio.com", "p3m.dev")


def _cran_repositories(document: Mapping[str, object]) -> frozenset[str]:
    """Names of the lockfile's `R.Repositories` whose URL is CRAN or a CRAN mirror."""
    names = set(_CRAN_NAMES)
    for index, raw in enumerate(as_list(section(document, "R").get("Repositories") or [], "R.Repositories")):
        if isinstance(raw, dict):
            name, url = raw.get("Name"), raw.get("URL")
            if isinstance(name, str) and isinstance(url, str) and any(host in url for host in _CRAN_HOSTS):
                names.add(name)
        else:
            raise StructureError(f"R.Repositories[{index}]", "expected an object with Name and URL")
    return frozenset(names)


def _entry(key: str, raw: Mapping[str, object], where: str, cran: frozenset[str]) -> Entry:
    name = optional_field(raw, "Package", where) or key
    source = field(raw, "Source", where)
    version = field(raw, "Version", where)
    repository = optional_field(raw, "Repository", where)
    # renv before 0.13 wrote `"Source": "CRAN"`; later versions write `Repository` plus its name.
    if source == "CRAN" or (source == "Repository" and (repository is None or repository in cran)):
        return Package(name=name, version=version, ecosystem=ECOSYSTEM, purl=cran_purl(name, version), location=where)
    if source == "Repository":
        reason = f"installed from the repository {repository!r}, not CRAN; CRAN advisories may not apply"
    elif source == "Bioconductor":
        reason = "a Bioconductor package; this scan matches renv.lock against CRAN advisories only"
    elif source in ("GitHub", "GitLab", "Bitbucket", "git"):
        remote = optional_field(raw, "RemoteUrl", where) or "/".join(
            part for part in (raw.get("RemoteUsername"), raw.get("RemoteRepo")) if isinstance(part, str)
        )
        reason = f"installed from {source} ({redact(remote) or 'a repository'}), not a release published on CRAN"
    elif source == "Local":
        reason = "installed from a local source package, not a release published on CRAN"
    else:
        reason = f"installed from the source {source!r}, not a release published on CRAN"
    return UnscannableEntry(name=name, reason=reason, location=where)


class RenvLockParser(EntryParser):
    """Reads `renv.lock`; GitHub, local, Bioconductor and non-CRAN repository packages are unscannable."""

    ecosystem = ECOSYSTEM
    default_filename = "renv.lock"

    def entries(self, content: str) -> Iterator[Entry]:
        """One entry per key of `Packages`."""
        document = as_mapping(load_json(content), "")
        cran = _cran_repositories(document)
        for key, raw in section(document, "Packages").items():
            where = keyed("Packages", key)
            try:
                yield _entry(key, as_mapping(raw, where), where, cran)
            except StructureError as error:
                yield unreadable(where, key, error)
