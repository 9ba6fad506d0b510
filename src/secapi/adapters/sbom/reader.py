"""`SbomReader`: the declared format's reader, or the one the content shows (a multipart upload)."""

from __future__ import annotations

import re

from secapi.adapters.sbom import cyclonedx, spdx
from secapi.domain.sbom import ParsedSbom, SbomError, SbomFormat, SbomReader

_JSON_KEY = re.compile(rb'"(bomFormat|spdxVersion)"')
_READERS = {
    SbomFormat.CYCLONEDX_JSON: cyclonedx.read_json,
    SbomFormat.CYCLONEDX_XML: cyclonedx.read_xml,
    SbomFormat.SPDX_JSON: spdx.read_json,
    SbomFormat.SPDX_TAG_VALUE: spdx.read_tag_value,
}


def sniff(content: bytes) -> SbomFormat:
    """The format `content` is in: JSON by its `bomFormat` / `spdxVersion` key, XML, or SPDX tag-value."""
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        found = _JSON_KEY.search(content)
        if found is None:
            raise SbomError('the JSON document is neither CycloneDX ("bomFormat") nor SPDX ("spdxVersion")')
        return SbomFormat.CYCLONEDX_JSON if found[1] == b"bomFormat" else SbomFormat.SPDX_JSON
    if head.startswith(b"<"):
        return SbomFormat.CYCLONEDX_XML
    if b"SPDXVersion:" in head[:65536]:
        return SbomFormat.SPDX_TAG_VALUE
    raise SbomError(
        "the file is not an SBOM SecAPI reads: CycloneDX (JSON or XML) or SPDX (JSON or tag-value) are accepted"
    )


class DocumentSbomReader(SbomReader):
    """Reads CycloneDX and SPDX documents with the readers of this package."""

    def sniff(self, content: bytes) -> SbomFormat:
        """The format `content` shows."""
        if not content.strip():
            raise SbomError("the SBOM is empty: there is nothing to scan")
        return sniff(content)

    def read(self, content: bytes, declared: SbomFormat | None) -> ParsedSbom:
        """Parse `content` as `declared`, or as the format its content shows; hostile input is an `SbomError`."""
        if not content.strip():
            raise SbomError("the SBOM is empty: there is nothing to scan")
        kind = declared or sniff(content)
        try:
            return _READERS[kind](content)
        except SbomError:
            raise
        except RecursionError as exc:
            raise SbomError("the document is nested too deeply") from exc
        except Exception as exc:
            raise SbomError(f"the {kind} document could not be read ({type(exc).__name__})") from exc
