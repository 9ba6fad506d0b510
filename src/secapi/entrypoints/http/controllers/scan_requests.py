"""Starting scans: `POST /api/v1/scan/...`."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ValidationException
from litestar.params import JSONBody

from secapi.config import Settings
from secapi.domain.errors import InvalidInput
from secapi.domain.model import Principal
from secapi.domain.result_formats import ResultFormats
from secapi.domain.services.archive_scans import ArchiveScans
from secapi.domain.services.dependency_scans import DependencyScanService, LockfileInput
from secapi.domain.services.exploit_intel import RiskFilter
from secapi.domain.services.image_scans import ImageScanSubmitter
from secapi.domain.suppressions import ActiveSuppressions
from secapi.entrypoints.http.archive_scans import scan_uploaded_archive
from secapi.entrypoints.http.media_types import archive_media_types, json_only, lockfile_media_types, media_type_of
from secapi.entrypoints.http.openapi import (
    AUTHENTICATED,
    JSON_BODY,
    MULTIPART_MEDIA_TYPE,
    ArchiveScanOperation,
    LockfileScanOperation,
    ScanOperation,
    problem_responses,
    scan_responses,
)
from secapi.entrypoints.http.result_formats import OutputFormat, choose_format
from secapi.entrypoints.http.risk_filters import risk_filter, risk_filter_from_form
from secapi.entrypoints.http.scan_responses import outcome_response, wants_fresh
from secapi.entrypoints.http.schemas import MAX_COMPANIONS, DependencyScanRequest, DockerScanRequest


class ScanRequestsController(Controller):
    """Start scans: lockfiles, registry images, uploaded image archives."""

    path = "/scan"
    tags = ["scans"]

    @post(
        "/dependencies",
        operation_id="ScanDependencies",
        summary="Scan a dependency lockfile",
        description="Send JSON `{filename, content}` or a multipart upload with a `file` field. "
        "The ecosystem is inferred from the file name (package-lock.json, poetry.lock, go.mod, ...). "
        "Files that complete the lockfile (a go.mod's go.sum) go in `files` (JSON) or as further "
        "multipart file parts named `files`.",
        status_code=200,
        opt=lockfile_media_types,
        operation_class=LockfileScanOperation,
        responses={200: scan_responses()[200], **problem_responses(*JSON_BODY, *AUTHENTICATED, 406, 422)},
    )
    @inject
    async def scan_dependencies(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        scans: FromDishka[DependencyScanService],
        formats: FromDishka[ResultFormats],
        suppressions: FromDishka[ActiveSuppressions],
        output_format: OutputFormat = None,
    ) -> Response[Any]:
        fmt = choose_format(request, formats, output_format)
        lockfile, shared, narrow = await _read_lockfile(request)
        outcome = await scans.scan(principal, lockfile, shared=shared, bypass_cache=wants_fresh(request))
        return await outcome_response(request, outcome, risk_filter=narrow, fmt=fmt, suppressions=suppressions)

    @post(
        "/docker",
        operation_id="ScanDockerImage",
        summary="Scan a container image from its registry",
        description="Answers 200 with the result when the scan finishes within the sync budget, otherwise "
        "202 with `Location: /api/v1/scans/{id}` to poll. A scan that fails answers a 422 problem with its id.",
        status_code=200,
        opt=json_only,
        operation_class=ScanOperation,
        responses={**scan_responses(), **problem_responses(*JSON_BODY, *AUTHENTICATED, 406, 422)},
    )
    @inject
    async def scan_docker(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[DockerScanRequest],
        principal: FromDishka[Principal],
        images: FromDishka[ImageScanSubmitter],
        formats: FromDishka[ResultFormats],
        suppressions: FromDishka[ActiveSuppressions],
        output_format: OutputFormat = None,
    ) -> Response[Any]:
        fmt = choose_format(request, formats, output_format)
        narrow = risk_filter(data.min_epss, data.kev_only, source="body")
        outcome = await images.scan(principal, data.image, data.platform, bypass_cache=wants_fresh(request))
        return await outcome_response(request, outcome, risk_filter=narrow, fmt=fmt, suppressions=suppressions)

    @post(
        "/docker/archive",
        operation_id="ScanDockerArchive",
        summary="Scan an uploaded image archive (docker save or OCI layout tarball)",
        description="Multipart upload: field `file` (the tarball, optionally gzipped), optional `platform` and "
        "`image` (which image of a multi-image archive). Scanned the same way as a registry image.",
        status_code=200,
        opt=archive_media_types,
        operation_class=ArchiveScanOperation,
        responses={**scan_responses(), **problem_responses(400, *AUTHENTICATED, 406, 408, 413, 415, 422)},
        request_max_body_size=None,  # checked against SECAPI_ARCHIVE_MAX_BYTES while streaming
    )
    @inject
    async def scan_docker_archive(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        archives: FromDishka[ArchiveScans],
        settings: FromDishka[Settings],
        formats: FromDishka[ResultFormats],
        suppressions: FromDishka[ActiveSuppressions],
        output_format: OutputFormat = None,
    ) -> Response[Any]:
        fmt = choose_format(request, formats, output_format)  # before the upload is read
        return await scan_uploaded_archive(request, principal, archives, settings, fmt, suppressions)


async def _read_lockfile(request: Request[Any, Any, Any]) -> tuple[LockfileInput, bool, RiskFilter]:
    """The lockfile, whether the caller shares its result, and the response filter, from a JSON body or a
    multipart `file` upload (form fields `shared`, `min_epss`, `kev_only`)."""
    if media_type_of(request.headers.get("content-type", "")) == MULTIPART_MEDIA_TYPE:
        form = await request.form()
        uploads = form.getall("file", [])
        if len(uploads) > 1:
            raise ValidationException(
                detail="the request is not valid",
                extra=[{"key": "file", "message": _ONE_FILE_PART, "source": "body"}],
            )
        if not uploads:
            raise InvalidInput("send the lockfile as a multipart file part named 'file'", field="file")
        upload = _named_upload(uploads[0], "file")
        parts = [_named_upload(part, "files") for part in form.getall("files", [])]
        if len(parts) > MAX_COMPANIONS:
            raise InvalidInput(f"at most {MAX_COMPANIONS} companion files may be sent", field="files")
        shared = str(form.get("shared", "")).lower() in ("1", "true", "yes", "on")
        narrow = risk_filter_from_form(form)
        return (
            LockfileInput(
                filename=upload.filename,
                content=await _text_of(upload, "file"),
                companions=tuple([(part.filename, await _text_of(part, "files")) for part in parts]),
            ),
            shared,
            narrow,
        )
    body = await request.body()
    try:
        data = msgspec.json.decode(body, type=DependencyScanRequest)
    except msgspec.ValidationError as exc:
        raise ValidationException(
            detail="the request is not valid", extra=[{"key": _field_of(str(exc)), "message": str(exc)}]
        ) from exc
    except msgspec.DecodeError as exc:
        raise ValidationException(
            detail="the request is not valid", extra=[{"key": "body", "message": f"JSON is malformed: {exc}"}]
        ) from exc
    companions = tuple((file.filename, file.content) for file in data.files)
    narrow = risk_filter(data.min_epss, data.kev_only, source="body")
    return LockfileInput(filename=data.filename, content=data.content, companions=companions), data.shared, narrow


_ONE_FILE_PART = (
    "send exactly one multipart part named 'file' (the lockfile); companion files go in parts named 'files'"
)


_NAMELESS = {
    "file": ("poetry.lock", "SecAPI picks the lockfile format from it"),
    "files": ("go.sum", "SecAPI tells which companion file it is from its name"),
}


def _named_upload(part: Any, field: str) -> UploadFile:
    """A file part with a filename: a lockfile's (or companion's) format comes from its name, never its content."""
    if not isinstance(part, UploadFile) or not part.filename:
        example, why = _NAMELESS[field]
        raise InvalidInput(
            f'the {field!r} part needs a filename (Content-Disposition: form-data; name="{field}"; '
            f'filename="{example}"): {why}',
            field=field,
        )
    return part


async def _text_of(upload: UploadFile, field: str) -> str:
    raw = await upload.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{upload.filename or field} is not UTF-8 text (byte {exc.start})", field=field) from exc


def _field_of(message: str) -> str:
    # msgspec says "... - at `$.filename`"; name the field, or the body when it concerns the whole.
    marker = "at `$."
    if marker in message:
        return message.split(marker, 1)[1].split("`", 1)[0]
    if "missing required field" in message:
        return message.rsplit("`", 2)[-2]
    return "body"
