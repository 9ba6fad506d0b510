"""Starting scans: `POST /api/v1/scan/...`."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Request, Response, post
from litestar.datastructures import UploadFile
from litestar.exceptions import ValidationException
from litestar.openapi.spec import Example
from litestar.params import Body, JSONBody

from secapi.domain.errors import InvalidInput
from secapi.domain.model import Principal
from secapi.domain.services.dependency_scans import DependencyScanService, LockfileInput
from secapi.domain.services.image_scans import ImageScanSubmitter
from secapi.entrypoints.http.archive_scans import scan_uploaded_archive
from secapi.entrypoints.http.scan_responses import scan_response, wants_fresh
from secapi.entrypoints.http.schemas import MAX_COMPANIONS, DependencyScanRequest, DockerScanRequest

_EXAMPLE = {"filename": "requirements.txt", "content": "requests==2.30.0\nflask==2.2.4\n"}


class ScanRequestsController(Controller):
    """Start scans: lockfiles, registry images, uploaded image archives."""

    path = "/api/v1/scan"
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
        request_body=Body(examples=[Example(value=_EXAMPLE)]),
    )
    @inject
    async def scan_dependencies(
        self,
        request: Request[Any, Any, Any],
        principal: FromDishka[Principal],
        scans: FromDishka[DependencyScanService],
    ) -> Response[Any]:
        lockfile, shared = await _read_lockfile(request)
        outcome = await scans.scan(principal, lockfile, shared=shared, bypass_cache=wants_fresh(request))
        return scan_response(request, outcome.scan, outcome.cache, outcome.raw_result)

    @post(
        "/docker",
        operation_id="ScanDockerImage",
        summary="Scan a container image from its registry",
        description="Answers 200 with the result when the scan finishes within the sync budget, otherwise "
        "202 with `Location: /api/v1/scans/{id}` to poll. A scan that fails answers a 422 problem with its id.",
        status_code=200,
    )
    @inject
    async def scan_docker(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[DockerScanRequest],
        principal: FromDishka[Principal],
        images: FromDishka[ImageScanSubmitter],
    ) -> Response[Any]:
        outcome = await images.scan(principal, data.image, data.platform, bypass_cache=wants_fresh(request))
        return scan_response(request, outcome.scan, outcome.cache, outcome.raw_result)

    @post(
        "/docker/archive",
        operation_id="ScanDockerArchive",
        summary="Scan an uploaded image archive (docker save or OCI layout tarball)",
        description="Multipart upload: field `file` (the tarball, optionally gzipped), optional `platform` and "
        "`image` (which image of a multi-image archive). Scanned the same way as a registry image.",
        status_code=200,
        request_max_body_size=None,  # checked against SECAPI_ARCHIVE_MAX_BYTES while streaming
    )
    async def scan_docker_archive(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await scan_uploaded_archive(request)


async def _read_lockfile(request: Request[Any, Any, Any]) -> tuple[LockfileInput, bool]:
    """The lockfile (and whether the caller shares its result) from a JSON body or a multipart `file` upload."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the lockfile as a multipart field named 'file'", field="file")
        parts = [part for part in form.getall("files", []) if isinstance(part, UploadFile)]
        if len(parts) > MAX_COMPANIONS:
            raise InvalidInput(f"at most {MAX_COMPANIONS} companion files may be sent", field="files")
        shared = str(form.get("shared", "")).lower() in ("1", "true", "yes", "on")
        return LockfileInput(
            filename=upload.filename or "",
            content=await _text_of(upload, "file"),
            companions=tuple([(part.filename or "", await _text_of(part, "files")) for part in parts]),
        ), shared
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
    return LockfileInput(filename=data.filename, content=data.content, companions=companions), data.shared


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
