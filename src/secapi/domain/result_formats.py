"""The output formats a server writes a finished scan in, besides its native JSON (`ResultFormat`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from secapi.domain.ports import ResultFormat

NATIVE_FORMAT = "json"
"""The scan view itself, the default answer: no `ResultFormat` writes it."""


class ResultFormats:
    """The formats offered, in the server's order of preference (after the native JSON), by name and media type."""

    def __init__(self, formats: Iterable[ResultFormat]) -> None:
        self._formats = tuple(formats)
        self._by_name: dict[str, ResultFormat] = {}
        for fmt in self._formats:
            if fmt.name == NATIVE_FORMAT or fmt.name in self._by_name:
                raise ValueError(f"output format {fmt.name!r} is already taken")
            self._by_name[fmt.name] = fmt

    def __iter__(self) -> Iterator[ResultFormat]:
        return iter(self._formats)

    def __len__(self) -> int:
        return len(self._formats)

    def named(self, name: str) -> ResultFormat | None:
        """The format `?format=name` asks for; None when this server does not write it."""
        return self._by_name.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every format a client may ask for, the native JSON first."""
        return (NATIVE_FORMAT, *self._by_name)
