"""The output formats a finished scan can be read in besides the native JSON (`?format=`, `Accept`)."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from secapi.adapters.formats.cyclonedx import CycloneDxFormat
from secapi.adapters.formats.html_report import HtmlReport
from secapi.adapters.formats.sarif import SarifFormat
from secapi.adapters.formats.spdx import SpdxFormat
from secapi.domain.result_formats import ResultFormats


class FormatsProvider(Provider):
    """`ResultFormats`: one renderer per format, from `secapi.adapters.formats`; a format is offered once listed.

    The order is the server's preference among formats an `Accept` header rates equally (after the native JSON).
    """

    @provide(scope=Scope.APP)
    def result_formats(self) -> ResultFormats:
        return ResultFormats([CycloneDxFormat(), SpdxFormat(), SarifFormat(), HtmlReport()])
