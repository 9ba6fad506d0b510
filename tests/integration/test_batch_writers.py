"""The batched writers on PostgreSQL (COPY): hit rows and usage rows arrive as given."""

from __future__ import annotations

import pytest
from litestar import Litestar

from support.batch_writers import check_batch_writers
from support.seed import container_of

pytestmark = pytest.mark.integration


async def test_batched_hit_rows_and_usage_rows_on_postgresql(app: Litestar) -> None:
    await check_batch_writers(container_of(app))
