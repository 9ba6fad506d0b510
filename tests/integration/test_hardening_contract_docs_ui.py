"""The docs UI works offline: its page loads only assets this server serves."""

from __future__ import annotations

import re

import pytest
from httpx import AsyncClient


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_docs_page_references_only_local_assets_that_answer(client: AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200, response.text
    html = response.text
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls, html
    assert not [url for url in urls if "//" in url], urls  # no CDN, no scheme-relative URL
    assert "cdn." not in html
    assets = [url for url in urls if url.startswith("/schema/static/")]
    assert {url.split("?")[0].rsplit("/", 1)[-1] for url in assets} >= {
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-ui.css",
    }
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url


async def test_assets_carry_their_licence_and_a_cacheable_type(client: AsyncClient) -> None:
    licence = await client.get("/schema/static/swagger-ui/LICENSE")
    assert licence.status_code == 200
    assert "Apache License" in licence.text
    script = await client.get("/schema/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    assert "max-age=86400" in script.headers["cache-control"]
    missing = await client.get("/schema/static/swagger-ui/nope.js")
    assert missing.status_code == 404
