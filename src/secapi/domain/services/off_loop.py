"""Running a CPU-bound step of a large input in a worker thread, so the event loop keeps answering."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

OFF_LOOP_BYTES = 64 * 1024
"""Inputs at least this large are parsed in a thread: a 100,000-line requirements.txt (2.3 MB) took 0.5 s
to parse, a 64 KiB one ~20 ms; a 3-line one 0.04 ms, which the thread hop would make 0.16 ms."""

OFF_LOOP_ITEMS = 2_000
"""Collections of at least this many packages are processed in a thread (100,000 took ~0.3 s to group)."""


async def cpu_bound(large: bool, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, in a worker thread when `large`, else inline (small inputs stay fast)."""
    if large:
        return await asyncio.to_thread(function, *args, **kwargs)
    return function(*args, **kwargs)
