"""OpenVEX 0.2.0 documents (https://openvex.dev): the structs they decode into and the rules SecAPI checks.

No copy of OpenVEX's JSON schema ships with any package this project installs, so a document is validated
structurally: msgspec decodes it into these structs (unknown fields refused, as the schema's
`additionalProperties: false` does; required fields, types, the status and justification enums, `version >= 1`,
RFC 3339 timestamps), then `check_document` adds the schema's conditional rules (`not_affected` needs a
`justification` or an `impact_statement`; `affected` needs an `action_statement`) and SecAPI's own: a statement
must name at least one product by package URL, since findings are matched by purl.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final

import msgspec

from secapi.domain.errors import InvalidInput

CONTEXT_PREFIX: Final = "https://openvex.dev/ns"
MAX_STATEMENTS: Final = 1000
"""Statements per document SecAPI stores."""
_TEXT = Annotated[str, msgspec.Meta(max_length=4000)]
_ID = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class VexStatus(StrEnum):
    """A statement's status; `not_affected` and `fixed` suppress findings, the others annotate them."""

    NOT_AFFECTED = "not_affected"
    AFFECTED = "affected"
    FIXED = "fixed"
    UNDER_INVESTIGATION = "under_investigation"


SUPPRESSING: Final = frozenset({VexStatus.NOT_AFFECTED, VexStatus.FIXED})


class Justification(StrEnum):
    """OpenVEX's `not_affected` justification labels."""

    COMPONENT_NOT_PRESENT = "component_not_present"
    VULNERABLE_CODE_NOT_PRESENT = "vulnerable_code_not_present"
    VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = "vulnerable_code_not_in_execute_path"
    VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = "vulnerable_code_cannot_be_controlled_by_adversary"
    INLINE_MITIGATIONS_ALREADY_EXIST = "inline_mitigations_already_exist"


class _Vex(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of the OpenVEX structs: unknown fields are an error; absent optional fields stay absent."""


class VexVulnerability(_Vex, frozen=True):
    """The vulnerability a statement is about: its main name and other names."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    id: _ID | None = msgspec.field(default=None, name="@id")
    description: _TEXT | None = None
    aliases: tuple[str, ...] = ()


class VexIdentifiers(_Vex, frozen=True):
    """Software identifiers of a component; SecAPI matches the purl."""

    purl: _ID | None = None
    cpe22: _ID | None = None
    cpe23: _ID | None = None


class VexSubcomponent(_Vex, frozen=True):
    """A component inside a product, where the vulnerability originates (a package of an image)."""

    id: _ID | None = msgspec.field(default=None, name="@id")
    identifiers: VexIdentifiers | None = None
    hashes: dict[str, str] | None = None

    @property
    def purl(self) -> str | None:
        """The component's package URL: `identifiers.purl`, else an `@id` that is one."""
        return _purl_of(self.id, self.identifiers)


class VexProduct(VexSubcomponent, frozen=True):
    """A product a statement applies to, possibly narrowed to some of its subcomponents."""

    subcomponents: tuple[VexSubcomponent, ...] = ()


class VexStatement(_Vex, frozen=True):
    """One assertion: these products and this vulnerability have this status."""

    vulnerability: VexVulnerability
    status: VexStatus
    id: _ID | None = msgspec.field(default=None, name="@id")
    version: Annotated[int, msgspec.Meta(ge=1)] | None = None
    timestamp: datetime | None = None
    last_updated: datetime | None = None
    products: tuple[VexProduct, ...] = ()
    supplier: _TEXT | None = None
    status_notes: _TEXT | None = None
    justification: Justification | None = None
    impact_statement: _TEXT | None = None
    action_statement: _TEXT | None = None
    action_statement_timestamp: datetime | None = None


class VexDocument(_Vex, frozen=True):
    """An OpenVEX document: metadata and its statements."""

    context: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = msgspec.field(name="@context")
    id: _ID = msgspec.field(name="@id")
    author: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    timestamp: datetime
    version: Annotated[int, msgspec.Meta(ge=1)]
    statements: Annotated[list[VexStatement], msgspec.Meta(min_length=1)]
    role: _TEXT | None = None
    last_updated: datetime | None = None
    tooling: _TEXT | None = None


def parse_document(raw: bytes) -> VexDocument:
    """Decode and check an OpenVEX document; `InvalidInput` names what is wrong (field path included)."""
    try:
        document = msgspec.json.decode(raw, type=VexDocument)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"not a valid OpenVEX 0.2.0 document: {exc}", field=_path_of(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", field="body") from exc
    check_document(document)
    return document


def check_document(document: VexDocument) -> None:
    """The rules msgspec's types cannot say: the context, the conditional fields, purl-identified products."""
    if not document.context.startswith(CONTEXT_PREFIX):
        raise InvalidInput(f"@context must be OpenVEX's ({CONTEXT_PREFIX}/v0.2.0)", field="@context")
    if len(document.statements) > MAX_STATEMENTS:
        raise InvalidInput(f"a document may hold at most {MAX_STATEMENTS} statements", field="statements")
    for n, statement in enumerate(document.statements):
        where = f"statements[{n}]"
        if statement.status is VexStatus.NOT_AFFECTED and not (statement.justification or statement.impact_statement):
            raise InvalidInput(
                f"{where}: a not_affected statement needs a justification (or an impact_statement)",
                field=f"{where}.justification",
            )
        if statement.status is VexStatus.AFFECTED and not statement.action_statement:
            raise InvalidInput(
                f"{where}: an affected statement needs an action_statement", field=f"{where}.action_statement"
            )
        if not any(product.purl or any(sub.purl for sub in product.subcomponents) for product in statement.products):
            raise InvalidInput(
                f"{where}: name at least one product (or subcomponent) by package URL (`pkg:...` as @id or "
                "identifiers.purl): SecAPI matches statements to findings by purl",
                field=f"{where}.products",
            )


def _purl_of(ident: str | None, identifiers: VexIdentifiers | None) -> str | None:
    if identifiers is not None and identifiers.purl:
        return identifiers.purl
    if ident is not None and ident.startswith("pkg:"):
        return ident
    return None


def _path_of(message: str) -> str:
    marker = "at `$."
    if marker in message:
        return message.split(marker, 1)[1].split("`", 1)[0]
    return "body"
