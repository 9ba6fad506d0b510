"""What is measured on the server side during a load run: CPU and RSS of each service's process tree (psutil,
once a second) and each API instance's `/metrics` cache and quota counters (every few seconds, per process
generation, so a killed instance's counts up to its last scrape are kept)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import psutil
from stack import Service, api_base

COUNTERS = ("secapi_cache_hits_total", "secapi_cache_misses_total", "secapi_rate_limit_exceeded_total")


@dataclass
class Sample:
    """One service at one moment: its whole process tree."""

    at: float
    cpu_percent: float
    rss_bytes: int
    processes: int


def parse_counters(text: str) -> dict[str, dict[str, float]]:
    """`COUNTERS` from Prometheus text: metric → label set (as written) → value."""
    found: dict[str, dict[str, float]] = defaultdict(dict)
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name in COUNTERS:
            labels, _, value = rest.rpartition("} ")
            found[name][labels] = float(value)
    return found


def label(labels: str, key: str) -> str:
    """The value of `key` in a Prometheus label set written as `a="x",b="y"`."""
    for part in labels.split(","):
        name, _, value = part.partition("=")
        if name == key:
            return value.strip('"')
    return ""


@dataclass
class Sampler:
    """Samples `services` in a thread until `stop()`."""

    services: list[Service]
    apis: list[Service]
    interval: float = 1.0
    scrape_every: float = 5.0
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    scrapes: dict[tuple[str, int], dict[str, dict[str, float]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _procs: dict[int, psutil.Process] = field(default_factory=dict)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.scrape()  # the final counts

    def _run(self) -> None:
        last_scrape = 0.0
        while not self._stop.wait(self.interval):
            for service in self.services:
                sample = self._sample(service)
                if sample is not None:
                    self.samples[service.name].append(sample)
            if time.monotonic() - last_scrape >= self.scrape_every:
                self.scrape()
                last_scrape = time.monotonic()

    def _sample(self, service: Service) -> Sample | None:
        pid = service.pid
        if pid is None:
            return None
        try:
            root = self._process(pid)
            tree = [root, *(self._process(child.pid) for child in root.children(recursive=True))]
            cpu, rss = 0.0, 0
            for process in tree:
                with process.oneshot():
                    cpu += process.cpu_percent(None)  # since this process's previous sample
                    rss += process.memory_info().rss
        except psutil.Error:
            return None
        return Sample(time.time(), cpu, rss, len(tree))

    def _process(self, pid: int) -> psutil.Process:
        process = self._procs.get(pid)
        if process is None or not process.is_running():
            process = self._procs[pid] = psutil.Process(pid)
            process.cpu_percent(None)  # the first call only starts the measurement
        return process

    def scrape(self) -> None:
        """Read each live API instance's counters, filed under (instance, generation)."""
        for api in self.apis:
            if api.pid is None:
                continue
            try:
                text = httpx.get(f"{api_base(api)}/metrics", timeout=5).text
            except httpx.HTTPError:
                continue
            self.scrapes[(api.name, api.generation)] = parse_counters(text)

    def totals(self) -> dict[str, dict[str, float]]:
        """Counters summed over instances and their generations (each generation's last scrape)."""
        summed: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for counters in self.scrapes.values():
            for name, values in counters.items():
                for labels, value in values.items():
                    summed[name][labels] += value
        return summed
