"""The yardstick of `cache_hit.py`: a plain Litestar app answering a small JSON object, nothing of SecAPI's.

Served exactly as SecAPI is served (`secapi.entrypoints.http.server`): Granian, one ASGI worker, the
event loop Granian picks (uvloop where installed), no access log. Run alone:
`uv run python benchmarks/bare_litestar.py --port 8010`.

`--app floor` serves instead the least any Litestar + redis-py cache hit must do, to show how far the
target is from what the stack allows: `POST /floor` reads the JSON body, hashes it, sends one pipeline
with a rate-limit script (INCR + PEXPIRE per key) and the cache GET, and returns the stored bytes
(`cache_hit.py` stores a copy of SecAPI's own hit answer under the body's digest first). No authentication, no quota
windows, no usage, no metrics, no headers beyond the body's.
"""

from __future__ import annotations

import argparse
import hashlib
import os

from granian.constants import Interfaces, Loops
from granian.log import LogLevels
from granian.server import Server
from litestar import Litestar, Request, Response, get, post
from redis.asyncio import Redis

FLOOR_BLOB_PREFIX = "floor:blob:"
"""The stored answer of a request body lives under this prefix and the body's SHA-256."""
_COUNT = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], 60000) end return n"


@get("/")
async def hello() -> dict[str, str]:
    return {"status": "ok"}


def app_factory() -> Litestar:
    return Litestar(route_handlers=[hello], debug=False)


def floor_app_factory() -> Litestar:
    redis = Redis.from_url(os.environ["FLOOR_REDIS_URL"])
    count = redis.register_script(_COUNT)

    @post("/floor", status_code=200)
    async def floor(request: Request) -> Response[bytes]:  # type: ignore[type-arg]
        body = await request.body()
        digest = hashlib.sha256(body).hexdigest()
        pipeline = redis.pipeline(transaction=False)
        pipeline.evalsha(count.sha, 1, "floor:count:" + request.headers.get("authorization", ""))
        pipeline.get(f"{FLOOR_BLOB_PREFIX}{digest}")
        _, blob = await pipeline.execute()
        return Response(blob, media_type="application/json")

    async def load_script() -> None:
        await redis.script_load(_COUNT)

    return Litestar(route_handlers=[floor], on_startup=[load_script], debug=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app", choices=["bare", "floor"], default="bare")
    args = parser.parse_args()
    Server(
        "bare_litestar:app_factory" if args.app == "bare" else "bare_litestar:floor_app_factory",
        address="127.0.0.1",
        port=args.port,
        workers=1,
        interface=Interfaces.ASGI,
        loop=Loops.auto,
        factory=True,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()
