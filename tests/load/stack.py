"""The production-shaped stack the load test runs against, all on 127.0.0.1.

HAProxy (deploy/haproxy/haproxy.cfg, rendered into the run directory) in front of two `secapi serve`
instances, two `secapi worker` processes, PostgreSQL (a fresh database), Redis (one private node, or a
three-master Redis Cluster plus a private node for the SAQ queue) and Debian's `docker-registry`.
Every process runs in its own session, so a whole instance (Granian's parent and its workers) can be
killed with SIGKILL and started again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_TEMPLATE = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
SECAPI = str(Path(sys.executable).parent / "secapi")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `check()` until it is true, else fail naming `what`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {seconds:.0f} s")


@dataclass
class Service:
    """One long-running process of the stack, started again after a kill with the same command."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str | None = None
    process: subprocess.Popen[bytes] | None = None
    generation: int = 0
    started_at: list[float] = field(default_factory=list)

    def start(self, wait: float = 60) -> None:
        """Start the process and wait until it is ready."""
        self.spawn()
        self.wait_ready(wait)

    def spawn(self) -> None:
        """Start the process."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.generation += 1
        self.started_at.append(time.time())

    def wait_ready(self, wait: float = 60) -> None:
        """Wait until `ready_url` answers 200 (nothing to wait for without one)."""
        if self.ready_url is not None:
            url = self.ready_url
            wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, wait, f"{self.name} ({url})")

    @property
    def pid(self) -> int | None:
        return None if self.process is None or self.process.poll() is not None else self.process.pid

    def kill9(self) -> None:
        """SIGKILL the whole process group: no shutdown hook, no flush, as a crashed machine."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def terminate(self) -> None:
        """SIGTERM the process group without waiting."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, wait up to 40 s, then SIGKILL."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.kill9()


@dataclass
class Stack:
    """The running services; `url` is HAProxy's."""

    url: str
    apis: list[Service]
    workers: list[Service]
    others: list[Service]
    haproxy_stats: Path
    haproxy_config: Path

    @property
    def services(self) -> list[Service]:
        return [*self.apis, *self.workers, *self.others]

    def stop(self) -> None:
        """SIGTERM every service at once (HAProxy first), then wait for each (workers drain their scans)."""
        for service in reversed(self.services):
            service.terminate()
        for service in reversed(self.services):
            service.stop()


def redis_server(name: str, run_dir: Path) -> tuple[Service, str]:
    """A private single Redis node on a free loopback port (never the shared 6379)."""
    port = free_port()
    service = Service(
        name,
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(run_dir),
        ],
        dict(os.environ),
        run_dir / f"{name}.log",
    )
    service.start()
    wait_until(
        lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() == b"PONG",
        20,
        name,
    )
    return service, f"redis://127.0.0.1:{port}/0"


def render_haproxy(run_dir: Path, values: Mapping[str, str]) -> Path:
    """deploy/haproxy/haproxy.cfg with its `"${VAR}"` placeholders filled in, written into `run_dir`."""
    text = HAPROXY_TEMPLATE.read_text()
    rendered = re.sub(r'"\$\{(\w+)\}"', lambda m: f'"{values[m.group(1)]}"', text)
    path = run_dir / "haproxy.cfg"
    path.write_text(rendered)
    checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise RuntimeError(f"haproxy -c rejected {path}: {checked.stdout}{checked.stderr}")
    return path


def start_stack(
    run_dir: Path, env: dict[str, str], *, instances: int = 2, workers: int = 2, api_processes: int = 1
) -> Stack:
    """Start `workers` workers, `instances` API instances and HAProxy in front of them (Redis and PostgreSQL
    are already in `env`)."""
    if shutil.which("haproxy") is None:
        raise RuntimeError("haproxy is not installed: apt-get install haproxy")
    worker_services = [
        Service(f"worker{n}", [SECAPI, "worker"], env, run_dir / f"worker{n}.log") for n in range(1, workers + 1)
    ]
    api_services = []
    for n in range(1, instances + 1):
        port = free_port()
        argv = [SECAPI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(api_processes)]
        api_services.append(
            Service(f"api{n}", argv, env, run_dir / f"api{n}.log", ready_url=f"http://127.0.0.1:{port}/health/ready")
        )
    started: list[Service] = []
    try:
        for service in (*worker_services, *api_services):
            started.append(service)
            service.spawn()
        for service in api_services:
            service.wait_ready()
        haproxy = start_haproxy(run_dir, api_services)
    except BaseException:
        for service in reversed(started):
            service.stop()
        raise
    return Stack(api_base(haproxy), api_services, worker_services, [haproxy],
                 run_dir / "haproxy.sock", run_dir / "haproxy.cfg")  # fmt: skip


def start_haproxy(run_dir: Path, api_services: list[Service]) -> Service:
    """HAProxy on a free port in front of `api_services`, once it answers /health/ready."""
    lb_port = free_port()
    stats = run_dir / "haproxy.sock"
    values = {"SECAPI_LB_BIND": f"127.0.0.1:{lb_port}", "SECAPI_LB_STATS": str(stats)}
    values.update(
        {f"SECAPI_API_{n}": api.ready_url.split("/")[2] for n, api in enumerate(api_services, 1) if api.ready_url}
    )
    config = render_haproxy(run_dir, values)
    haproxy = Service("haproxy", ["haproxy", "-db", "-f", str(config)], dict(os.environ), run_dir / "haproxy.log")
    haproxy.ready_url = f"http://127.0.0.1:{lb_port}/health/ready"
    haproxy.start()
    return haproxy


def api_base(service: Service) -> str:
    """`http://host:port` of an API instance (or of HAProxy)."""
    assert service.ready_url is not None
    return service.ready_url.removesuffix("/health/ready")


def haproxy_stats(socket_path: Path) -> list[dict[str, str]]:
    """`show stat` from the admin socket: one row per frontend, server and backend."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(socket_path))
        sock.sendall(b"show stat\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    lines = b"".join(chunks).decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    return [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
