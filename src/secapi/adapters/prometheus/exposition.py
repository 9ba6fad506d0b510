"""Where metric values live (this process, or files shared by a server's workers) and how a scrape renders them.

With several worker processes behind one port, each scrape reaches one of them;
prometheus_client's multiprocess mode has every process write its values to
files in `PROMETHEUS_MULTIPROC_DIR`, and a scrape sums them, so any worker
answers for the whole instance.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector, disable_created_metrics, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from secapi.domain.metrics import MetricsExposition

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The shared directory when this process is one of several serving the same metrics."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: Path) -> None:
    """Create `path` and delete value files left by an earlier run, so counters start from zero."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def sweep_dead_processes(path: Path) -> list[int]:
    """Drop the live gauges (in flight, pool, active scans) of processes that died without leaving.

    A worker that exits cleanly leaves the sums itself (`process_exiting`); one that crashed or was
    killed, and was respawned, would otherwise count in those gauges until the server restarts.
    Counters and histograms of dead processes stay: what they counted happened.
    """
    dead = sorted({pid for f in path.glob("gauge_live*_*.db") if (pid := _pid_of(f)) is not None and not _alive(pid)})
    for pid in dead:
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return dead


def _pid_of(values_file: Path) -> int | None:
    tail = values_file.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _use_multiprocess_values_if_configured() -> None:
    # prometheus_client picks its value store when first imported. `secapi serve` imports it before
    # setting PROMETHEUS_MULTIPROC_DIR and forking its workers, so a worker must pick again.
    if multiprocess_dir() and values.ValueClass is values.MutexValue:
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class PrometheusExposition(MetricsExposition):
    """This process's registry, and the rendering of a scrape (summed across processes in multiprocess mode)."""

    def __init__(self) -> None:
        _use_multiprocess_values_if_configured()
        # `*_created` samples double the series for a timestamp that Prometheus does not use.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry()
        if not self.multiprocess:
            # Process CPU and memory only mean something for a single process.
            ProcessCollector(registry=self.registry)

    def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition body and its content type: OpenMetrics when `accept` asks for it, else Prometheus text."""
        encoder, content_type = choose_encoder(accept)
        if not self.multiprocess:
            return encoder(self.registry), content_type
        directory = multiprocess_dir()
        if directory is not None:
            sweep_dead_processes(Path(directory))
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return encoder(merged), content_type

    def process_exiting(self) -> None:
        """Drop this process's live gauges (in-flight requests, pool, active scans) from the instance's sums."""
        if self.multiprocess:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
