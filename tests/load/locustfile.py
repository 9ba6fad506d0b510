"""Locust users for SecAPI: CI pipelines scanning lockfiles, mostly the same ones, and reading results.

Keys come from `SECAPI_LOAD_KEYS` (comma-separated, one per simulated tenant); `tests/load/run.py`
seeds them. The mix mirrors CI traffic: most scans repeat a popular shared lockfile (cache hits),
some scan a team's own lockfile (private), a few are new; results are polled and listed.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, between, task

KEYS = [key for key in os.environ.get("SECAPI_LOAD_KEYS", "").split(",") if key]
POPULAR = [
    "flask==2.2.4\njinja2==3.1.2\nrequests==2.30.0\n",
    "django==4.2.0\nurllib3==1.26.0\n",
    "pyyaml==5.3\ncryptography==41.0.0\n",
    "pillow==9.5.0\nwerkzeug==2.2.2\n",
]


class Pipeline(FastHttpUser):
    """A CI job: scan dependencies, look at its scans and its usage."""

    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.key = random.choice(KEYS)
        self.headers = {"Authorization": f"Bearer {self.key}"}
        self.own = f"flask==2.2.{random.randint(0, 4)}\n"

    @task(8)
    def popular_lockfile(self) -> None:
        body = {"filename": "requirements.txt", "content": random.choice(POPULAR), "shared": True}
        self.client.post("/api/v1/scan/dependencies", json=body, headers=self.headers, name="scan popular")

    @task(2)
    def own_lockfile(self) -> None:
        body = {"filename": "requirements.txt", "content": self.own}
        self.client.post("/api/v1/scan/dependencies", json=body, headers=self.headers, name="scan own")

    @task(1)
    def new_lockfile(self) -> None:
        body = {"filename": "requirements.txt", "content": f"pkg-{random.randint(0, 10**9)}==1.0\n"}
        self.client.post("/api/v1/scan/dependencies", json=body, headers=self.headers, name="scan new")

    @task(3)
    def list_scans(self) -> None:
        self.client.get("/api/v1/scans?limit=10", headers=self.headers, name="list scans")

    @task(1)
    def usage(self) -> None:
        self.client.get("/api/v1/usage", headers=self.headers, name="usage")
