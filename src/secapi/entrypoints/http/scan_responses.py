"""One place that turns a scan's state into the HTTP answer of a scan request."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from secapi.domain.model import Scan, ScanStatus
from secapi.entrypoints.http.problems import problem
from secapi.entrypoints.http.schemas import ScanView


def scan_location(scan: Scan) -> str:
    """Where the client polls the scan."""
    return f"/api/v1/scans/{scan.id}"


def scan_response(request: Request[Any, Any, Any], scan: Scan) -> Response[Any]:
    """200 with the result; 202 + Location while queued or running; a 422 problem if the scan failed."""
    headers = {"Location": scan_location(scan)}
    if scan.status is ScanStatus.COMPLETED:
        return Response(ScanView.of(scan), status_code=200, headers=headers)
    if scan.status is ScanStatus.FAILED:
        return problem(
            422,
            "scan-failed",
            "Scan failed",
            scan.error or "the scan failed",
            request,
            headers=headers,
            extensions={"scan_id": str(scan.id), "scan": scan_location(scan)},
        )
    headers["Retry-After"] = "2"
    return Response(ScanView.of(scan), status_code=202, headers=headers)
