"""Locust users for the production-shaped load test (tests/load/production.py): tenants of all four tiers.

The plan (JSON at `SECAPI_LOAD_PLAN`, written by production.py) holds each tier's API keys, the image
references (popular ones and never-scanned new ones), the target rate and where to write records. Each user
is one tier's CI traffic: image scans (popular → hits; new → misses a worker scans: 202, then the `Location`
is polled until the scan is done), lockfile and SBOM scans (popular and shared, the tenant's own, new), listing
scans and usage. A free tenant's 429s are expected (its quotas are small) and counted as such, per tier; any
other status not in the expected set is a failure.

Every request, and every scan accepted with an id, is written as a JSON line to `<records>/<pid>.jsonl` as it
happens, so the runner can compute exact percentiles, per-minute errors and check that no accepted scan is lost.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from arrivals import poisson_arrivals
from locust import FastHttpUser, between, events, task

PLAN: dict[str, Any] = (
    json.loads(Path(os.environ["SECAPI_LOAD_PLAN"]).read_text()) if "SECAPI_LOAD_PLAN" in os.environ else {}
)
POPULAR_LOCKFILES = [
    "flask==2.2.4\njinja2==3.1.2\nrequests==2.30.0\n",
    "django==4.2.0\nurllib3==1.26.0\n",
    "pyyaml==5.3\ncryptography==41.0.0\n",
    "pillow==9.5.0\nwerkzeug==2.2.2\n",
]
POLL_SECONDS = 120.0
NEW_IMAGE_TURN = itertools.count()
"""This process's walk through its share of the new image tags (Locust users of a process are greenlets)."""
_records: Any = None


def record(line: dict[str, Any]) -> None:
    """Append one JSON line to this process's record file (opened on first use, line-buffered)."""
    global _records
    if _records is None:
        directory = Path(PLAN["records"])
        directory.mkdir(parents=True, exist_ok=True)
        _records = (directory / f"{os.getpid()}.jsonl").open("a", buffering=1)
    _records.write(json.dumps(line, separators=(",", ":")) + "\n")


@events.request.add_listener  # type: ignore[untyped-decorator]
def on_request(
    request_type: str, name: str, response_time: float, response: Any, exception: Any, context: dict[str, Any], **_: Any
) -> None:
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    record(
        {
            "k": "req",
            "t": round(time.time(), 3),
            "n": name,
            "ms": round(response_time, 2),
            "s": status,
            "c": headers.get("x-cache-status", ""),
            "tier": context.get("tier", ""),
            "err": None if exception is None else str(exception)[:200],
        }
    )


class Tenant(FastHttpUser):
    """One tier's CI jobs; the subclasses below only set the tier and its share of the users."""

    abstract = True
    tier = ""
    wait_time = poisson_arrivals(PLAN["per_user_rate"]) if PLAN.get("per_user_rate") else between(0.5, 1.5)

    def on_start(self) -> None:
        self.keys: list[str] = PLAN["keys"][self.tier]
        runner = self.environment.runner
        index, count = getattr(runner, "worker_index", 0) or 0, max(1, int(PLAN.get("processes", 1)))
        self.new_images: list[str] = PLAN["images"]["new"][index % count :: count] or PLAN["images"]["new"]
        if PLAN.get("per_user_rate"):  # the first request too on the schedule: no burst at spawn
            gevent.sleep(self.wait_time())

    def _tenant(self) -> tuple[int, dict[str, str]]:
        n = random.randrange(len(self.keys))
        return n, {"Authorization": f"Bearer {self.keys[n]}"}

    def _judge(self, response: Any, ok: tuple[int, ...] = (200,)) -> bool:
        """Mark `response`: an expected status is a success; a free tenant's 429 is expected; the rest fail."""
        if response.status_code in ok:
            response.success()
            return True
        if response.status_code == 429 and self.tier == "free":
            response.success()  # recorded with status 429 and no error: an expected refusal
            return False
        detail = (response.text or "")[:160].replace("\n", " ")
        response.failure(f"{response.status_code} for a {self.tier} tenant: {detail}")
        return False

    def _scan(self, path: str, name: str, tenant: int, headers: dict[str, str], **kwargs: Any) -> None:
        ctx = {"tier": self.tier}
        with self.client.post(path, headers=headers, name=name, context=ctx, catch_response=True, **kwargs) as response:
            if not self._judge(response, (200, 202)):
                return
            body = response.json()
            record({"k": "accepted", "t": round(time.time(), 3), "id": body["id"], "tier": self.tier, "tenant": tenant,
                    "n": name, "s": response.status_code, "c": response.headers.get("x-cache-status", "")})  # fmt: skip
            location = response.headers.get("location") if response.status_code == 202 else None
        if location:
            self._follow(location, headers)

    def _follow(self, location: str, headers: dict[str, str]) -> None:
        """Poll a 202's `Location` until the scan is done (200), failed (422) or the patience runs out."""
        deadline = time.monotonic() + POLL_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.5)  # gevent-patched: other users run meanwhile
            ctx = {"tier": self.tier}
            with self.client.get(location, headers=headers, name="poll scan", context=ctx, catch_response=True) as r:
                if r.status_code == 202:
                    r.success()
                    continue
                if self._judge(r) or r.status_code == 429:
                    if r.status_code == 200:
                        return
                    continue
                return
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="GET", name="poll scan", response_time=POLL_SECONDS * 1000, response_length=0, response=None,
            context={"tier": self.tier}, exception=RuntimeError(f"{location} not done within {POLL_SECONDS:.0f} s"),
        )  # fmt: skip

    @task(6)
    def image_popular(self) -> None:
        tenant, headers = self._tenant()
        body = {"image": random.choice(PLAN["images"]["popular"])}
        self._scan("/api/v1/scan/docker", "scan image popular", tenant, headers, json=body)

    @task(1)
    def image_new(self) -> None:
        tenant, headers = self._tenant()
        image = self.new_images[next(NEW_IMAGE_TURN) % len(self.new_images)]  # each once, until all were scanned
        self._scan("/api/v1/scan/docker", "scan image new", tenant, headers, json={"image": image})

    @task(6)
    def lockfile_popular(self) -> None:
        tenant, headers = self._tenant()
        body = {"filename": "requirements.txt", "content": random.choice(POPULAR_LOCKFILES), "shared": True}
        self._scan("/api/v1/scan/dependencies", "scan lockfile popular", tenant, headers, json=body)

    @task(2)
    def lockfile_own(self) -> None:
        tenant, headers = self._tenant()
        body = {"filename": "requirements.txt", "content": f"flask==2.2.{tenant % 5}\nclick==8.1.{tenant % 7}\n"}
        self._scan("/api/v1/scan/dependencies", "scan lockfile own", tenant, headers, json=body)

    @task(1)
    def lockfile_new(self) -> None:
        tenant, headers = self._tenant()
        body = {"filename": "requirements.txt", "content": f"pkg-{random.randrange(10**9)}==1.0\nflask==2.2.4\n"}
        self._scan("/api/v1/scan/dependencies", "scan lockfile new", tenant, headers, json=body)

    @task(2)
    def sbom_popular(self) -> None:
        tenant, headers = self._tenant()
        headers = {**headers, "Content-Type": "application/vnd.cyclonedx+json"}
        body = random.choice(PLAN["sboms"])
        self._scan("/api/v1/scan/sbom?shared=true", "scan sbom popular", tenant, headers, data=body)

    @task(1)
    def sbom_new(self) -> None:
        tenant, headers = self._tenant()
        headers = {**headers, "Content-Type": "application/vnd.cyclonedx+json"}
        n = random.randrange(10**9)
        component = {"type": "library", "name": f"pkg-{n}", "version": "1.0", "purl": f"pkg:pypi/pkg-{n}@1.0"}
        base = json.loads(PLAN["sboms"][0])
        body = json.dumps({**base, "components": [*base.get("components", [])[:20], component]})
        self._scan("/api/v1/scan/sbom", "scan sbom new", tenant, headers, data=body)

    @task(3)
    def list_scans(self) -> None:
        _, headers = self._tenant()
        ctx = {"tier": self.tier}
        with self.client.get("/api/v1/scans?limit=10", headers=headers, name="list scans", context=ctx,
                             catch_response=True) as response:  # fmt: skip
            self._judge(response)

    @task(1)
    def usage(self) -> None:
        _, headers = self._tenant()
        ctx = {"tier": self.tier}
        with self.client.get("/api/v1/usage", headers=headers, name="usage", context=ctx, catch_response=True) as r:
            self._judge(r)


class FreeTenant(Tenant):
    tier = "free"
    weight = 1


class StarterTenant(Tenant):
    tier = "starter"
    weight = 3


class ProTenant(Tenant):
    tier = "pro"
    weight = 3


class BusinessTenant(Tenant):
    tier = "business"
    weight = 3
