"""Reading a public report from a request, for the API (``POST /v1/public/reports``) and the
form (``POST /report``) alike: JSON, or a multipart form that may carry one document.

Both ways in parse here and call the same service function
(``brightline.service.intake.file_public_report``); both count the request against the
public limiter by client address first (:func:`count_attempt`), which keeps it in memory
for one minute and never logs it.
"""

from __future__ import annotations

from typing import Final

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData, UploadFile

from brightline.cases import MAX_DOCUMENT_BYTES, PublicReport, check_document
from brightline.errors import InvalidInputError, Problem
from brightline.server.state import app_state

#: A request filing a report may be this large: the document and the form around it.
PUBLIC_BODY_BYTES: Final = MAX_DOCUMENT_BYTES + 256 * 1024
#: The paths that accept :data:`PUBLIC_BODY_BYTES` (every other path: the server's limit).
PUBLIC_UPLOAD_PATHS: Final = frozenset({"/v1/public/reports", "/report"})
#: Text fields of the form may each be this large (the summary's limit, in UTF-8, and more).
_MAX_FIELD_BYTES: Final = 64 * 1024


class PublicReportIn(BaseModel):
    """The JSON form of a report. Its limits are checked once, by ``PublicReport.parse``,
    which names every field that is wrong."""

    model_config = ConfigDict(extra="forbid")

    policy: str = Field(description="a policy id (the form at /report lists them)")
    subject: str = Field(description="the customer or unit, in your words (up to 200)")
    summary: str = Field(description="what you saw (up to 4,000 characters)")
    references: list[str] = Field(
        default_factory=list,
        description="up to 20 http(s) URLs, or SHA-256 digests (hex) of documents you hold",
    )
    contact: str | None = Field(default=None, description="optional; only case admins see it")


async def count_attempt(request: Request, route: str) -> None:
    """RateLimitedError once this client address has made too many attempts on ``route``
    this minute."""
    client = request.client
    app_state(request).public_limiter.take(route, client.host if client else None)


async def read_report(request: Request) -> tuple[PublicReport, bytes | None]:
    """The report a request carries, and its document if any; InvalidInputError naming
    every bad field, TooLargeError for a document over 10 MiB."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        try:
            body = PublicReportIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise InvalidInputError(
                [
                    Problem(".".join(str(p) for p in e["loc"]) or "body", e["msg"])
                    for e in exc.errors()
                ]
            ) from exc
        fields = body.model_dump()
        return PublicReport.parse(**fields), None
    if media in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(max_files=1, max_fields=40, max_part_size=_MAX_FIELD_BYTES)
        try:
            return _from_form(form), await _document(form)
        finally:
            await form.close()
    raise InvalidInputError(
        Problem("content-type", "send application/json, or multipart/form-data with a document")
    )


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _from_form(form: FormData) -> PublicReport:
    references = [
        line
        for value in form.getlist("references")
        if isinstance(value, str)
        for line in value.splitlines()
        if line.strip()
    ]
    return PublicReport.parse(
        policy=_text(form, "policy"),
        subject=_text(form, "subject"),
        summary=_text(form, "summary"),
        references=references,
        contact=_text(form, "contact") or None,
    )


async def _document(form: FormData) -> bytes | None:
    upload = form.get("document")
    if not isinstance(upload, UploadFile) or (not upload.filename and not upload.size):
        return None  # a browser sends an empty part when no file was chosen
    content = await upload.read(MAX_DOCUMENT_BYTES + 1)
    check_document(upload.size if upload.size is not None else len(content))
    return content or None
