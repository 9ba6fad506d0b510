"""VulnDbSync against a local-directory bucket of real OSV records, with in-memory store, state and lock."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from secapi.adapters.memory.metrics import RecordingMetrics
from secapi.adapters.osv.bucket import OsvBucketSource
from secapi.domain.errors import DependencyUnavailable, DomainError
from secapi.domain.services.vulndb_import import VulnDbImporter
from secapi.domain.services.vulndb_sync import LAST_FULL_SUCCESS, Feed, SyncState, VulnDbSync, last_full_success

from support.fakes import FakeClock, InMemoryVulnerabilityStore
from support.osv_bucket import Bucket, corrupt_zip, real_records
from support.sync_fakes import InMemorySyncStates, InProcessSyncLock, RecordingSource


class Rig:
    """A bucket written to a directory, the sync wired to fakes, and what it touched."""

    def __init__(
        self,
        root: Path,
        bucket: Bucket,
        feeds: tuple[Feed, ...] = (),
        max_changed: int = 5000,
        states: InMemorySyncStates | None = None,
    ) -> None:
        self.root, self.bucket = root, bucket
        self.store = InMemoryVulnerabilityStore()
        self.states = states or InMemorySyncStates()
        self.metrics = RecordingMetrics()
        self.lock = InProcessSyncLock()
        self.inner = OsvBucketSource(str(root))
        self.source = RecordingSource(self.inner)
        self.published: list[tuple[int, set[tuple[str, str]]]] = []
        self.clock = FakeClock()
        self.sync = VulnDbSync(
            self.source,
            self.states,
            VulnDbImporter(self.store),
            self.store,
            self.lock,
            self.metrics,
            self.clock,
            feeds,
            max_changed_ids=max_changed,
        )

    def publish(self) -> None:
        self.bucket.write_to(self.root)

    async def run(self, *ecosystems: str) -> Any:
        self.source.calls.clear()

        async def published(version: int, keys: set[tuple[str, str]]) -> None:
            self.published.append((version, keys))

        return await self.sync.run(list(ecosystems) or ["PyPI", "crates.io"], on_published=published)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    bucket = Bucket.of(real_records("pypa", "rustsec"))
    rig = Rig(tmp_path / "bucket", bucket)
    rig.publish()
    yield rig
    await rig.inner.aclose()


def _changed(record: dict[str, Any], modified: str, **fields: Any) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    changed["modified"] = modified
    changed.update(fields)
    return changed


async def test_first_sync_imports_every_record_and_publishes_once(rig: Rig) -> None:
    report = await rig.run()
    assert not report.failed
    assert set(rig.store.advisories) == {r["id"] for r in real_records("pypa", "rustsec")}
    assert [o.method for o in report.outcomes] == ["archive", "archive"]
    assert len(rig.published) == 1
    assert rig.published[0][0] == report.version.version
    assert ("PyPI", "pyspark") in rig.published[0][1]
    assert rig.metrics.sync_last_success is not None


async def test_second_sync_downloads_nothing(rig: Rig) -> None:
    await rig.run()
    report = await rig.run()
    assert [o.method for o in report.outcomes] == ["not-modified", "not-modified"]
    assert rig.source.downloads() == []
    assert report.version is None
    assert len(rig.published) == 1


async def test_one_changed_record_fetches_only_that_record(rig: Rig) -> None:
    await rig.run()
    record = next(r for r in real_records("pypa") if r["id"] == "PYSEC-2023-135")
    rig.bucket.put_record(_changed(record, "2026-12-01T00:00:00Z", summary="changed"))
    rig.publish()
    report = await rig.run()
    pypi = next(o for o in report.outcomes if o.ecosystem == "PyPI")
    assert pypi.method == "incremental"
    assert pypi.counts.updated == 1
    assert ("records", "PyPI", ("PYSEC-2023-135",)) in rig.source.calls
    assert not any(call[0] == "archive" for call in rig.source.calls)
    assert rig.store.advisories["PYSEC-2023-135"].summary == "changed"
    assert len(rig.published) == 2


async def test_a_withdrawn_record_stops_matching_and_its_keys_are_reported(rig: Rig) -> None:
    await rig.run()
    record = next(r for r in real_records("pypa") if r["id"] == "PYSEC-2023-135")
    keys = {("PyPI", entry["package"]["name"].lower()) for entry in record["affected"]}
    assert await rig.store.candidates(keys)  # type: ignore[no-untyped-call]
    rig.bucket.put_record(_changed(record, "2026-12-01T00:00:00Z", withdrawn="2026-12-01T00:00:00Z"))
    rig.publish()
    report = await rig.run()
    assert report.outcomes[0].counts.withdrawn == 1
    left = await rig.store.candidates(keys)  # type: ignore[no-untyped-call]
    assert not [c for c in left if c.advisory.id == "PYSEC-2023-135"]
    assert keys <= rig.published[-1][1]


async def test_a_package_dropped_from_a_record_is_among_the_changed_keys(rig: Rig) -> None:
    await rig.run()
    record = next(r for r in real_records("pypa") if r["id"] == "PYSEC-2023-135")
    old_name = record["affected"][0]["package"]["name"]
    moved = _changed(record, "2026-12-01T00:00:00Z")
    moved["affected"][0]["package"]["name"] = "some-other-package"
    rig.bucket.put_record(moved)
    rig.publish()
    await rig.run()
    assert ("PyPI", old_name.lower()) in rig.published[-1][1]
    assert ("PyPI", "some-other-package") in rig.published[-1][1]


async def test_a_corrupt_zip_fails_the_ecosystem_and_changes_nothing(rig: Rig) -> None:
    zip_path = rig.root / "PyPI" / "all.zip"
    zip_path.write_bytes(corrupt_zip(zip_path.read_bytes()))
    report = await rig.run()
    pypi = next(o for o in report.outcomes if o.ecosystem == "PyPI")
    assert pypi.error is not None
    assert "corrupt" in pypi.error
    assert not any(a.startswith("PYSEC") for a in rig.store.advisories)
    assert not [key for key in rig.states.rows if "/PyPI/" in key]
    assert rig.metrics.sync_failures["PyPI"] == 1
    assert rig.metrics.sync_last_success is None
    # The other ecosystem was still applied, and published.
    assert any(a.startswith("RUSTSEC") for a in rig.store.advisories)
    assert len(rig.published) == 1


async def test_too_many_changes_take_the_archive(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "bucket", Bucket.of(real_records("pypa")), max_changed=1)
    rig.publish()
    await rig.run("PyPI")
    for record in real_records("pypa")[:2]:
        rig.bucket.put_record(_changed(record, "2026-12-01T00:00:00Z"))
    rig.publish()
    report = await rig.run("PyPI")
    assert report.outcomes[0].method == "archive"
    assert report.outcomes[0].counts.updated == 2
    assert not any(call[0] == "records" for call in rig.source.calls)
    await rig.inner.aclose()


async def test_a_source_without_listings_uses_conditional_zips(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "bucket", Bucket.of(real_records("pypa"), publish_listing=False))
    rig.publish()
    await rig.run("PyPI")
    report = await rig.run("PyPI")
    assert report.outcomes[0].method == "not-modified"
    rig.bucket.put_record(_changed(real_records("pypa")[0], "2026-12-01T00:00:00Z"))
    rig.publish()
    report = await rig.run("PyPI")
    assert report.outcomes[0].method == "archive"
    assert report.outcomes[0].counts.updated == 1
    await rig.inner.aclose()


async def test_a_second_concurrent_sync_does_nothing(rig: Rig) -> None:
    async with rig.lock.hold() as held:
        assert held
        report = await rig.run()
    assert report.skipped
    assert report.outcomes == []
    assert rig.store.advisories == {}


async def test_a_feed_is_applied_only_when_it_changed_and_advances_the_version(tmp_path: Path) -> None:
    applied: list[bytes] = []
    feed_file = tmp_path / "kev.json"
    feed_file.write_text('{"vulnerabilities": []}')

    async def apply(path: Path) -> int:
        applied.append(path.read_bytes())  # noqa: ASYNC240 - a test's few bytes
        return 7

    rig = Rig(tmp_path / "bucket", Bucket.of(real_records("pypa")), feeds=(Feed("kev", str(feed_file), apply),))
    rig.publish()
    await rig.run("PyPI")
    assert len(applied) == 1
    assert rig.store.versions[-1].version == rig.published[-1][0]
    report = await rig.run("PyPI")
    assert len(applied) == 1
    assert report.version is None
    feed_file.write_text('{"vulnerabilities": [1]}')
    report = await rig.run("PyPI")
    assert len(applied) == 2
    assert report.version is not None
    assert report.outcomes[-1].read == 7
    await rig.inner.aclose()


async def test_a_feed_that_fails_to_apply_is_a_failure_and_is_tried_again(tmp_path: Path) -> None:

    feed_file = tmp_path / "epss.csv.gz"
    feed_file.write_bytes(b"not gzip")
    calls = 0

    async def apply(path: Path) -> int:
        nonlocal calls
        calls += 1
        raise DomainError("not an EPSS file")

    rig = Rig(tmp_path / "bucket", Bucket.of(real_records("pypa")), feeds=(Feed("epss", str(feed_file), apply),))
    rig.publish()
    report = await rig.run("PyPI")
    assert report.failed[0].ecosystem == "feed:epss"
    assert "not an EPSS file" in (report.failed[0].error or "")
    await rig.run("PyPI")
    assert calls == 2  # the failed file's validators were not stored
    await rig.inner.aclose()


async def test_only_a_run_in_which_everything_succeeded_stores_its_end(tmp_path: Path) -> None:
    feed_file = tmp_path / "kev.json"
    feed_file.write_text('{"vulnerabilities": []}')
    broken = False

    async def apply(path: Path) -> int:
        if broken:
            raise DomainError("the KEV catalogue does not parse")
        return 1

    rig = Rig(tmp_path / "bucket", Bucket.of(real_records("pypa")), feeds=(Feed("kev", str(feed_file), apply),))
    rig.publish()
    assert await last_full_success(rig.states) is None  # never synced
    await rig.run("PyPI")
    synced_at = rig.clock.now()
    assert await last_full_success(rig.states) == synced_at
    assert rig.metrics.sync_last_success == synced_at.timestamp()

    # An hour later the records sync but the feed fails: a partial run moves neither the row nor the gauge.
    rig.clock.advance(3600)
    broken = True
    feed_file.write_text('{"vulnerabilities": [1]}')
    report = await rig.run("PyPI")
    assert [outcome.ecosystem for outcome in report.failed] == ["feed:kev"]
    assert await last_full_success(rig.states) == synced_at
    assert rig.metrics.sync_last_success == synced_at.timestamp()

    # Fixed, nothing else to download: a run that succeeds in full moves it, though nothing changed.
    rig.clock.advance(3600)
    broken = False
    report = await rig.run("PyPI")
    assert not report.failed
    assert await last_full_success(rig.states) == synced_at + timedelta(hours=2)
    assert rig.metrics.sync_last_success == (synced_at + timedelta(hours=2)).timestamp()
    await rig.inner.aclose()


class _EndUnstorable(InMemorySyncStates):
    """Stores the sources' state, but the database is gone by the time the run's end is written."""

    async def save(self, states: Sequence[SyncState]) -> None:
        if any(state.resource == LAST_FULL_SUCCESS for state in states):
            raise DependencyUnavailable("database unreachable")
        await super().save(states)


async def test_a_run_whose_end_cannot_be_stored_still_succeeds(tmp_path: Path) -> None:
    rig = Rig(tmp_path / "bucket", Bucket.of(real_records("pypa")), states=_EndUnstorable())
    rig.publish()
    report = await rig.run("PyPI")
    assert not report.failed
    assert report.outcomes[0].counts.added == len(real_records("pypa"))
    assert await last_full_success(rig.states) is None
    assert rig.metrics.sync_last_success == rig.clock.now().timestamp()  # this process still knows
    await rig.inner.aclose()
