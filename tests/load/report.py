"""Reading a load run back (Locust's CSV, the per-process records, the sampler) and writing summary.md."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import platform
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sampling import Sampler, label
from stack import Stack

HIT_RATE_TARGET = 0.60
HIT_P95_TARGET_MS = 100.0
NO_SCAN_P99_TARGET_MS = 100.0
KILL_WINDOW_SECONDS = 15.0
"""A failed request under way within this long after a kill -9 counts as "during kill" (HAProxy needs 2 failed
checks to take an instance out); one sent just before the kill counts too, however long it then took."""
SCAN_NAMES = ("scan image popular", "scan image new", "scan lockfile popular", "scan lockfile own",
              "scan lockfile new", "scan sbom popular", "scan sbom new")  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


@dataclass
class Run:
    """One Locust run: its stats table, every request and accepted scan, and what the sampler saw."""

    run_dir: Path
    stats: list[dict[str, str]]
    failures: list[dict[str, str]]
    requests: list[dict[str, Any]]
    accepted_scans: list[dict[str, Any]]
    started: float
    ended: float
    sampler: Sampler
    events: list[tuple[float, str]]
    haproxy: list[dict[str, str]]
    target_rate: float | None = None
    lost: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(
        cls,
        run_dir: Path,
        prefix: Path,
        started: float,
        ended: float,
        sampler: Sampler,
        events: list[tuple[float, str]],
        haproxy: list[dict[str, str]],
    ) -> Run:
        lines: list[dict[str, Any]] = []
        for path in sorted((run_dir / "records").glob("*.jsonl")):
            lines.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
        stats = list(csv.DictReader(Path(f"{prefix}_stats.csv").read_text().splitlines()))
        failures = list(csv.DictReader(Path(f"{prefix}_failures.csv").read_text().splitlines()))
        requests = [line for line in lines if line["k"] == "req"]
        accepted = [line for line in lines if line["k"] == "accepted"]
        return cls(run_dir, stats, failures, requests, accepted, started, ended, sampler, events, haproxy)

    def achieved_rate(self) -> float:
        """Requests per second between the first and the last request (Locust's start and stop left out)."""
        if len(self.requests) < 2:
            return 0.0
        times = [float(r["t"]) for r in self.requests]
        return len(times) / max(1.0, max(times) - min(times))

    def no_scan_latencies(self) -> list[float]:
        """Requests answered without running a scan: cache hits, listings and usage (all 200)."""
        return [
            r["ms"] for r in self.requests if r["s"] == 200 and (r["c"] == "HIT" or r["n"] in ("list scans", "usage"))
        ]

    def p99_no_scan(self) -> float:
        return percentile(self.no_scan_latencies(), 99)

    def kill_windows(self) -> list[tuple[float, float]]:
        return [(at, at + KILL_WINDOW_SECONDS) for at, what in self.events if what.startswith("kill")]

    def during_kill(self, request: dict[str, Any]) -> bool:
        """The request was under way (sent before its end, `t`) at some moment of a kill window."""
        sent = request["t"] - request["ms"] / 1000
        return any(sent <= end and request["t"] >= start for start, end in self.kill_windows())

    def unexpected(self, *, outside_kills: bool = False) -> list[dict[str, Any]]:
        """Failed requests (a free tenant's 429 is not one); outside the kill windows only, if asked."""
        failed = [r for r in self.requests if r["err"] is not None]
        if outside_kills:
            failed = [r for r in failed if not self.during_kill(r)]
        return failed

    def accepted(self) -> list[dict[str, Any]]:
        return self.accepted_scans


async def check_accepted(
    base: str, keys: dict[str, list[str]], accepted: list[dict[str, Any]], timeout: float
) -> dict[str, Any]:
    """GET /api/v1/scans/{id} for every accepted scan until each is completed or failed (or `timeout` passes)."""
    scans = {a["id"]: a for a in accepted}
    state: dict[str, str] = {}
    started = time.monotonic()
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def look(scan_id: str) -> None:
            info = scans[scan_id]
            headers = {"Authorization": f"Bearer {keys[info['tier']][info['tenant']]}", "Accept": "application/json"}
            async with limit:
                for _ in range(5):
                    response = await client.get(f"/api/v1/scans/{scan_id}", headers=headers)
                    if response.status_code != 429:
                        break
                    await asyncio.sleep(float(response.headers.get("retry-after", "5")))
            if response.status_code == 404:
                state[scan_id] = "missing"
            elif response.status_code in (200, 422):
                state[scan_id] = response.json().get("status", str(response.status_code))
            else:
                state[scan_id] = "queued" if response.status_code == 202 else f"http {response.status_code}"

        pending = list(scans)
        while True:
            await asyncio.gather(*(look(scan_id) for scan_id in pending))
            pending = [s for s in scans if state[s] not in ("completed", "failed")]
            if not pending or time.monotonic() - started > timeout:
                break
            await asyncio.sleep(5)
    outcome = Counter(state.values())
    lost = [scans[s] | {"state": state[s]} for s in pending]
    return {"accepted": len(scans), "states": dict(outcome), "lost": lost, "seconds": time.monotonic() - started}


def _mb(value: float) -> str:
    return f"{value / 2**20:.0f}"


def stats_table(run: Run) -> list[str]:
    lines = [
        "| request | count | unexpected failures | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in run.stats:
        lines.append(
            f"| {row['Name'] or row['Type']} | {row['Request Count']} | {row['Failure Count']} | "
            f"{float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} | {row['99%']} |"
        )
    return lines


def hit_lines(run: Run) -> tuple[list[str], float, float, float]:
    """Cache hit latency per scan request type (from the records), and the sampler's /metrics hit rate."""
    hits: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for r in run.requests:
        if r["n"] in SCAN_NAMES and r["s"] in (200, 202):
            statuses[r["n"]][f"{r['s']} {r['c'] or 'queued'}"] += 1
            if r["c"] == "HIT":
                hits[r["n"]].append(r["ms"])
    lines = [
        "| scan request | answers (status, X-Cache-Status) | hit p50 ms | hit p95 ms | hit p99 ms |",
        "|---|---|---|---|---|",
    ]
    for name in SCAN_NAMES:
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(statuses[name].items()))
        values = hits[name]
        lines.append(
            f"| {name} | {shown} | {percentile(values, 50):.0f} | {percentile(values, 95):.0f} "
            f"| {percentile(values, 99):.0f} |"
        )
    every = [ms for values in hits.values() for ms in values]
    totals = run.sampler.totals()
    hit = sum(totals["secapi_cache_hits_total"].values())
    miss = sum(totals["secapi_cache_misses_total"].values())
    rate = hit / (hit + miss) if hit + miss else 0.0
    return lines, percentile(every, 95), rate, hit + miss


def quota_lines(run: Run) -> list[str]:
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for r in run.requests:
        if r["s"] == 429:
            seen[r["tier"]]["expected" if r["err"] is None else "unexpected"] += 1
    server: Counter[str] = Counter()
    for labels, value in run.sampler.totals()["secapi_rate_limit_exceeded_total"].items():
        server[label(labels, "tier")] += int(value)
    lines = [
        "| tier | 429 expected (free) | 429 unexpected | server `secapi_rate_limit_exceeded_total` |",
        "|---|---|---|---|",
    ]
    for tier in ("free", "starter", "pro", "business"):
        lines.append(f"| {tier} | {seen[tier]['expected']} | {seen[tier]['unexpected']} | {server[tier]} |")
    return lines


def resource_lines(run: Run) -> list[str]:
    lines = ["| process tree | samples | CPU mean % | CPU max % | RSS first MB | RSS last MB | RSS max MB | restarts |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, samples in run.sampler.samples.items():
        service = next((s for s in run.sampler.services if s.name == name), None)
        restarts = (service.generation - 1) if service is not None else 0
        cpu = [s.cpu_percent for s in samples[1:]] or [0.0]
        lines.append(
            f"| {name} | {len(samples)} | {statistics.fmean(cpu):.0f} | {max(cpu):.0f} | {_mb(samples[0].rss_bytes)} "
            f"| {_mb(samples[-1].rss_bytes)} | {_mb(max(s.rss_bytes for s in samples))} | {restarts} |"
        )
    return lines


def soak_lines(run: Run) -> list[str]:
    """Per minute: requests and failures; RSS at the start and end of each service's life in the run."""
    per_minute: dict[int, Counter[str]] = defaultdict(Counter)
    for r in run.requests:
        minute = int((r["t"] - run.started) // 60)
        per_minute[minute]["requests"] += 1
        if r["err"] is not None:
            per_minute[minute]["during kill" if run.during_kill(r) else "unexpected"] += 1
    lines = ["| minute | requests | unexpected failures | failures during kill |", "|---|---|---|---|"]
    for minute in sorted(per_minute):
        c = per_minute[minute]
        lines.append(f"| {minute + 1} | {c['requests']} | {c['unexpected']} | {c['during kill']} |")
    lines += ["", "Events:", ""]
    lines += [
        f"- {dt.datetime.fromtimestamp(at, dt.UTC):%H:%M:%S} (+{at - run.started:.0f} s): {what}"
        for at, what in run.events
    ]
    lines += ["", "RSS, first vs last minute of the run (median of the samples; a restarted service's last minute is "
              "its new process):", "", "| process tree | first minute MB | last minute MB | change |",
              "|---|---|---|---|"]  # fmt: skip
    for name, samples in run.sampler.samples.items():
        first = [s.rss_bytes for s in samples if s.at - run.started < 60]
        last = [s.rss_bytes for s in samples if run.ended - s.at < 60]
        if first and last:
            a, b = statistics.median(first), statistics.median(last)
            lines.append(f"| {name} | {_mb(a)} | {_mb(b)} | {(b - a) / a:+.0%} |")
    failures = [r for r in run.requests if r["err"] is not None and run.during_kill(r)]
    if failures:
        lines += ["", "Failures during kill (first 10; sent at, took):", ""]
        lines += [f"- +{r['t'] - r['ms'] / 1000 - run.started:.1f} s, {r['ms'] / 1000:.1f} s: {r['n']}: {r['err']}"
                  for r in failures[:10]]  # fmt: skip
    return lines


def lost_lines(run: Run) -> list[str]:
    lost = run.lost
    if not lost:
        return []
    lines = [f"Accepted scans (200/202 with an id): {lost['accepted']}; after the run, by state: {lost['states']} "
             f"(checked with GET /api/v1/scans/{{id}} for {lost['seconds']:.0f} s)."]  # fmt: skip
    if lost["lost"]:
        kinds = Counter(f"{item['n']} {item['s']} {item['c'] or '-'} → {item['state']}" for item in lost["lost"])
        lines.append(
            f"**Not terminal: {len(lost['lost'])}**: " + "; ".join(f"{k}: {v}" for k, v in kinds.most_common())
        )
        kills = [at for at, what in run.events if what.startswith("kill")]
        for item in lost["lost"][:20]:
            nearest = min(kills, key=lambda at: abs(at - item["t"]), default=None)
            after = "" if nearest is None else f", {item['t'] - nearest:+.2f} s from the nearest kill"
            lines.append(f"- {item['id']}: answered at +{item['t'] - run.started:.2f} s{after}")
    else:
        lines.append("Every accepted scan reached a terminal state: none lost.")
    return lines


def haproxy_lines(run: Run) -> list[str]:
    lines = ["| HAProxy server | status | sessions | retries | redispatches | connection errors | response errors "
             "| checks down |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for row in run.haproxy:
        if row.get("svname") not in ("FRONTEND",) and row.get("pxname") == "secapi_api":
            lines.append(f"| {row['svname']} | {row['status']} | {row['stot']} | {row['wretr']} | {row['wredis']} "
                         f"| {row['econ']} | {row['eresp']} | {row['chkdown']} |")  # fmt: skip
    return lines


def summary(args: argparse.Namespace, run: Run, stack: Stack) -> str:
    table = stats_table(run)
    hits, hit_p95, hit_rate, lookups = hit_lines(run)
    unexpected = run.unexpected()
    outside = run.unexpected(outside_kills=True)
    reasons = Counter(f"{r['n']}: {r['err']}" for r in unexpected)
    mode = "soak" if args.soak else "load"
    pace = f"steady {args.rate:g} req/s" if args.rate else "think time 0.5–1.5 s"
    command = (f".venv/bin/python tests/load/production.py --users {args.users} --seconds {args.seconds} "
               f"--redis {args.redis}{f' --rate {args.rate:g}' if args.rate else ''}"
               f"{' --soak' if args.soak else ''}")  # fmt: skip
    lines = [
        f"# Production-shaped {mode} test, {args.redis} Redis",
        "",
        f"{dt.datetime.fromtimestamp(run.started, dt.UTC):%Y-%m-%d %H:%M} UTC: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other work (timings are indicative). "
        f"HAProxy (`deploy/haproxy/haproxy.cfg`) → 2 `secapi serve` instances (1 Granian worker each) → PostgreSQL "
        f"and {'one Redis node' if args.redis == 'single' else 'a 3-master Redis Cluster (queue on one node)'}; "
        f"2 `secapi worker`; docker-registry on loopback. Locust {args.locust_processes} worker processes, "
        f"{args.users} users ({pace}), "
        f"{run.ended - run.started:.0f} s; {len(run.requests)} requests, {run.achieved_rate():.1f} req/s. "
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f}.",
        "",
        *table,
        "",
        "## Cache",
        "",
        *hits,
        "",
        f"- hit rate from /metrics (sum over instances): {hit_rate:.1%} of {lookups:.0f} lookups "
        f"(target ≥ {HIT_RATE_TARGET:.0%}): {'PASS' if hit_rate >= HIT_RATE_TARGET else 'MISS'}",
        f"- p95 of cache hits: {hit_p95:.0f} ms (target < {HIT_P95_TARGET_MS:.0f} ms): "
        f"{'PASS' if hit_p95 < HIT_P95_TARGET_MS else 'MISS'}",
        f"- p99 of requests answered without running a scan: {run.p99_no_scan():.0f} ms",
        "",
        "## 429s per tier",
        "",
        *quota_lines(run),
        "",
        "## Unexpected failures",
        "",
        f"{len(unexpected)} ({len(outside)} outside the kill windows)" + ("" if not reasons else ":"),
        "",
        *[f"- {count} × {reason}" for reason, count in reasons.most_common(10)],
        "",
        "## Processes (psutil, every second, whole process tree)",
        "",
        *resource_lines(run),
        "",
        *haproxy_lines(run),
        "",
    ]
    if args.soak:
        lines += ["## Soak", "", *soak_lines(run), ""]
    lines += ["## Accepted scans", "", *lost_lines(run), ""]
    return "\n".join(lines)


def find_max_table(args: argparse.Namespace, steps: list[Run]) -> str:
    lines = [f"# Highest steady rate with p99 < {NO_SCAN_P99_TARGET_MS:.0f} ms ({args.redis} Redis)", "",
             f"`.venv/bin/python tests/load/production.py --find-max --rate {args.rate:g} --step {args.step:g} "
             f"--seconds {args.seconds} --users {args.users} --redis {args.redis}`; p99 over requests answered "
             "without running a scan (cache hits, listings, usage).", "",
             "| target req/s | achieved req/s | p99 ms (no scan) | p95 ms (no scan) | unexpected failures |",
             "|---|---|---|---|---|"]  # fmt: skip
    best = None
    for run in steps:
        values = run.no_scan_latencies()
        ok = run.p99_no_scan() < NO_SCAN_P99_TARGET_MS and not run.unexpected()
        if ok and run.achieved_rate() >= 0.9 * (run.target_rate or 0):
            best = run
        lines.append(f"| {run.target_rate:g} | {run.achieved_rate():.1f} | {percentile(values, 99):.0f} "
                     f"| {percentile(values, 95):.0f} | {len(run.unexpected())} |")  # fmt: skip
    lines += [
        "",
        f"Highest: {best.achieved_rate():.1f} req/s (target {best.target_rate:g})" if best else "Highest: none",
    ]
    return "\n".join(lines) + "\n"
