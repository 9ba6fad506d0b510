"""OpenVEX documents are validated structurally: fields, types, enums and the conditional rules."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from secapi.domain.errors import InvalidInput
from secapi.domain.openvex import VexStatus, parse_document

from support.suppressions import document, statement

PRODUCT = {"@id": "pkg:npm/lodash@4.17.20"}


def encode(doc: dict[str, Any]) -> bytes:
    return msgspec.json.encode(doc)


def test_the_specs_example_document_is_accepted() -> None:
    raw = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://openvex.dev/docs/example/vex-9fb3463de1b57",
        "author": "Wolfi J Inkinson",
        "role": "Document Creator",
        "timestamp": "2023-01-08T18:02:03.647787998-06:00",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2023-12345", "aliases": ["GHSA-aaaa-bbbb-cccc"]},
                "products": [
                    {"@id": "pkg:apk/wolfi/git@2.39.0-r1?arch=armv7"},
                    {
                        "@id": "pkg:oci/git",
                        "identifiers": {"purl": "pkg:oci/git", "cpe23": "cpe:2.3:a:git:git:2.39.0:*:*:*:*:*:*:*"},
                        "hashes": {"sha-256": "402fa523b96591d4450ace90e32d9f779fcfd938903e1c5bf9d3701860b8f856"},
                        "subcomponents": [{"@id": "pkg:apk/wolfi/git@2.39.0-r1"}],
                    },
                ],
                "status": "fixed",
            }
        ],
    }
    parsed = parse_document(encode(raw))
    assert parsed.statements[0].status is VexStatus.FIXED
    assert parsed.statements[0].products[1].subcomponents[0].purl == "pkg:apk/wolfi/git@2.39.0-r1"
    assert msgspec.json.decode(msgspec.json.encode(parsed))["@context"] == "https://openvex.dev/ns/v0.2.0"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (document(statement("CVE-2021-23337", "not_affected", PRODUCT)), "statements[0].justification"),
        (document(statement("CVE-2021-23337", "affected", PRODUCT)), "statements[0].action_statement"),
        (document(statement("CVE-2021-23337", "fixed", {"@id": "https://example.com/app"})), "statements[0].products"),
        (document(statement("CVE-2021-23337", "fixed")), "statements[0].products"),
        (document(statement("CVE-2021-23337", "mitigated", PRODUCT)), "statements[0].status"),
        (
            document(statement("CVE-2021-23337", "not_affected", PRODUCT, justification="we_checked")),
            "statements[0].justification",
        ),
        (document(statement("CVE-2021-23337", "fixed", PRODUCT, severity="high")), "statements[0]"),
        ({**document(statement("CVE-2021-23337", "fixed", PRODUCT)), "@context": "https://example.com"}, "@context"),
        ({**document(statement("CVE-2021-23337", "fixed", PRODUCT)), "version": 0}, "version"),
        ({**document(), "statements": []}, "statements"),
        ({k: v for k, v in document(statement("CVE-1-1", "fixed", PRODUCT)).items() if k != "author"}, "body"),
    ],
)
def test_invalid_documents_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_document(encode(doc))
    assert raised.value.field is not None
    assert raised.value.field.startswith(field), (raised.value.field, str(raised.value))


def test_not_affected_with_only_an_impact_statement_is_accepted() -> None:
    doc = document(statement("CVE-2021-23337", "not_affected", PRODUCT, impact_statement="never called"))
    assert parse_document(encode(doc)).statements[0].impact_statement == "never called"


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_document(b"{not json")
