"""A small, safe XML reader for the XML manifests (`packages.config`, `pom.xml`).

expat (stdlib) is used directly rather than through ElementTree because it reports the line of
every element and lets a document type declaration be refused outright: without a DTD there are
no entity declarations, so no entity expansion ("billion laughs") and no external entities.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.parsers import expat

from secapi.adapters.lockfiles._common import StructureError, line


@dataclass
class XmlElement:
    """One element: its local name (prefix dropped), attributes, text, children and line."""

    tag: str
    attributes: dict[str, str]
    line: int
    children: list[XmlElement] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> XmlElement | None:
        """The first child named `tag`, if any."""
        return next((element for element in self.children if element.tag == tag), None)

    def find_all(self, tag: str) -> Iterator[XmlElement]:
        """The children named `tag`, in order."""
        return (element for element in self.children if element.tag == tag)

    def child_text(self, tag: str) -> str | None:
        """The stripped text of the first child named `tag`, or None when there is none."""
        element = self.find(tag)
        return None if element is None else element.text.strip()


def _local(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def load_xml(content: str) -> XmlElement:
    """Parse `content` into its root element; a DTD or a syntax error is a `StructureError`."""
    # Encoded here, so a declared `encoding="utf-16"` cannot disagree with the bytes expat sees.
    parser = expat.ParserCreate(encoding="UTF-8")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[XmlElement] = []
    roots: list[XmlElement] = []

    def refuse_doctype(*_: object) -> None:
        raise StructureError(line(parser.CurrentLineNumber), "a document type declaration (DTD) is not accepted")

    def start(name: str, attributes: dict[str, str]) -> None:
        names = {_local(key): value for key, value in attributes.items()}
        element = XmlElement(_local(name), names, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text += data

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(content.removeprefix("\ufeff").encode("utf-8", "surrogatepass"), True)
    except expat.ExpatError as exc:
        where = f"line {exc.lineno}, column {exc.offset + 1}"
        raise StructureError(where, f"invalid XML: {expat.ErrorString(exc.code)}") from exc
    return roots[0]
