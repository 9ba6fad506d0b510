"""Layer and image inventories in SQL, encoded with msgspec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from secapi.adapters.sql.errors import translate_db_errors
from secapi.adapters.sql.models import ImageInventoryModel, LayerInventoryModel
from secapi.domain.inventory import ImageInventory, LayerInventory
from secapi.domain.services.image_scan_runner import InventoryCache

_LAYERS: Table = LayerInventoryModel.__table__  # type: ignore[assignment]
_IMAGES: Table = ImageInventoryModel.__table__  # type: ignore[assignment]
_ENCODER = msgspec.msgpack.Encoder()
_LAYER = msgspec.msgpack.Decoder(LayerInventory)
_IMAGE = msgspec.msgpack.Decoder(ImageInventory)


async def _insert_once(connection: AsyncConnection, table: Table, values: dict[str, Any]) -> None:
    # Two workers may inventory the same layer at once; the first row stays (they are identical).
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    await connection.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


class SqlInventoryCache(InventoryCache):
    """`InventoryCache` in `layer_inventories` / `image_inventories`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get_layer(self, digest: str, cataloger_version: int) -> LayerInventory | None:
        """The cached layer inventory."""
        async with translate_db_errors(), self._engine.connect() as connection:
            data = await connection.scalar(
                select(_LAYERS.c.inventory).where(
                    _LAYERS.c.digest == digest, _LAYERS.c.cataloger_version == cataloger_version
                )
            )
        return None if data is None else _LAYER.decode(data)

    async def put_layer(self, inventory: LayerInventory) -> None:
        """Store a layer inventory."""
        values = {
            "digest": inventory.digest,
            "cataloger_version": inventory.cataloger_version,
            "inventory": _ENCODER.encode(inventory),
            "created_at": datetime.now(UTC),
        }
        async with translate_db_errors(), self._engine.begin() as connection:
            await _insert_once(connection, _LAYERS, values)

    async def get_image(self, manifest_digest: str, cataloger_version: int) -> ImageInventory | None:
        """The cached merged inventory of a manifest."""
        async with translate_db_errors(), self._engine.connect() as connection:
            data = await connection.scalar(
                select(_IMAGES.c.inventory).where(
                    _IMAGES.c.manifest_digest == manifest_digest, _IMAGES.c.cataloger_version == cataloger_version
                )
            )
        return None if data is None else _IMAGE.decode(data)

    async def put_image(self, manifest_digest: str, cataloger_version: int, inventory: ImageInventory) -> None:
        """Store a merged image inventory."""
        values = {
            "manifest_digest": manifest_digest,
            "cataloger_version": cataloger_version,
            "inventory": _ENCODER.encode(inventory),
            "created_at": datetime.now(UTC),
        }
        async with translate_db_errors(), self._engine.begin() as connection:
            await _insert_once(connection, _IMAGES, values)
