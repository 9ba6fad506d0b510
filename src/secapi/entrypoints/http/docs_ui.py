"""The interactive API docs, served with their assets from this package: they work offline, without a CDN."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

SWAGGER_UI_VERSION = "5.35.0"
"""The vendored `swagger-ui-dist` release (see static/swagger-ui/README.md)."""

ASSETS_PATH = "/schema/static/swagger-ui"
_ASSETS_DIR = Path(__file__).parent / "static" / "swagger-ui"


def docs_render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at `/schema` and `/schema/swagger`, loading only the assets served by `docs_assets_router`."""
    return [
        SwaggerRenderPlugin(
            path="/swagger",
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
            css_url=f"{ASSETS_PATH}/swagger-ui.css?v={SWAGGER_UI_VERSION}",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js?v={SWAGGER_UI_VERSION}",
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
        )
    ]


def docs_assets_router() -> Router:
    """The vendored Swagger UI files (and their licence), cacheable for a day."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[_ASSETS_DIR],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86_400, public=True),
        name="docs-assets",
    )
