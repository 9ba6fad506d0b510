"""The yardstick of `cache_hit.py`: a plain Litestar app answering a small JSON object, nothing of SecAPI's.

Served exactly as SecAPI is served (`secapi.entrypoints.http.server`): Granian, one ASGI worker, the
event loop Granian picks (uvloop where installed), no access log. Run alone:
`uv run python benchmarks/bare_litestar.py --port 8010`.
"""

from __future__ import annotations

import argparse

from granian.constants import Interfaces, Loops
from granian.log import LogLevels
from granian.server import Server
from litestar import Litestar, get


@get("/")
async def hello() -> dict[str, str]:
    return {"status": "ok"}


def app_factory() -> Litestar:
    return Litestar(route_handlers=[hello], debug=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    Server(
        "bare_litestar:app_factory",
        address="127.0.0.1",
        port=args.port,
        workers=1,
        interface=Interfaces.ASGI,
        loop=Loops.auto,
        factory=True,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()
