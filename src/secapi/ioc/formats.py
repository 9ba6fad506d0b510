"""The output formats a finished scan can be read in besides the native JSON (`?format=`, `Accept`)."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from secapi.domain.result_formats import ResultFormats


class FormatsProvider(Provider):
    """`ResultFormats`: one renderer per format, from `secapi.adapters.formats`; a format is offered once listed."""

    @provide(scope=Scope.APP)
    def result_formats(self) -> ResultFormats:
        return ResultFormats([])
