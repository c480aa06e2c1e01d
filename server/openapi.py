"""The OpenAPI document of the REST API, built from the same pydantic models the handlers use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from server import api_schemas as s
from server import stats_schemas as ss

# (method, path, summary, request body, response body)
OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None]] = [
    ("post", "/api/session", "Log in (sets the session cookie)", s.LoginIn, s.MediatorOut),
    ("delete", "/api/session", "Log out", None, None),
    ("get", "/api/me", "The logged-in mediator", None, s.MediatorOut),
    ("get", "/api/office", "The office's case categories and deadlines", None, s.OfficeOut),
    (
        "get",
        "/api/cases",
        "List the office's cases (page, per_page, status, category, q, deadline)",
        None,
        s.CaseList,
    ),
    ("post", "/api/cases", "Create a case", s.CaseIn, s.CaseOut),
    (
        "get",
        "/api/cases/{number}",
        "One case (personal data masked unless reveal=1)",
        None,
        s.CaseOut,
    ),
    ("post", "/api/cases/{number}/status", "Move the case along its life", s.StatusIn, s.CaseOut),
    ("patch", "/api/cases/{number}", "Correct a case's description", s.CaseUpdate, s.CaseOut),
    (
        "post",
        "/api/cases/{number}/sittings/{sitting_id}/close",
        "End a sitting: its room closes and its links stop working",
        None,
        s.SittingOut,
    ),
    (
        "post",
        "/api/cases/{number}/parties",
        "Add the consumer or the business",
        s.PartyIn,
        s.CaseOut,
    ),
    (
        "post",
        "/api/cases/{number}/invitations",
        "Open a sitting and issue its three links",
        s.InvitationsIn,
        s.InvitationsOut,
    ),
    (
        "get",
        "/api/cases/{number}/invitations",
        "The case's invitations (the links themselves are not kept)",
        None,
        s.InvitationList,
    ),
    (
        "post",
        "/api/invitations/{invitation_id}/revoke",
        "Withdraw a link at once",
        None,
        s.InvitationOut,
    ),
    (
        "get",
        "/api/cases/{number}/record",
        "Sittings, transcript and the audit check",
        None,
        s.RecordOut,
    ),
    (
        "post",
        "/api/cases/{number}/notes",
        "Add a mediator's note to the transcript",
        s.NoteIn,
        s.EntryOut,
    ),
    ("get", "/api/invitations/inspect", "Whom a join link is for (t, room)", None, None),
    ("get", "/api/cases/{number}/evidence", "Every file of the case", None, s.EvidenceList),
    (
        "get",
        "/api/cases/{number}/evidence/{evidence_id}/file",
        "One file of the case (range requests supported)",
        None,
        None,
    ),
    (
        "get",
        "/api/cases/{number}/recordings",
        "The case's recorded segments: one file per participant and segment, with its SHA-256",
        None,
        s.RecordingList,
    ),
    (
        "get",
        "/api/cases/{number}/recordings/{recording_id}/file",
        "One recorded segment (WebM or Matroska; range requests supported, so a player can"
        " seek); 410 recording_deleted once the retention job deleted its file",
        None,
        None,
    ),
    (
        "post",
        "/api/cases/{number}/sittings/{sitting_id}/playback",
        "Ask for the sitting's playback file (202; the one already queued or running if any);"
        " 409 sitting_open or no_recordings",
        None,
        s.PlaybackJobOut,
    ),
    (
        "get",
        "/api/cases/{number}/playback",
        "The case's playback files, with each one's progress",
        None,
        s.PlaybackJobList,
    ),
    (
        "get",
        "/api/cases/{number}/playback/{job_id}/file",
        "One playback file (MP4, range requests supported); 409 playback_not_ready until done",
        None,
        None,
    ),
    (
        "get",
        "/api/cases/{number}/transcript",
        "The transcript document (调解笔录) as JSON: every sitting's time line, notes, summary,"
        " evidence, recordings and the audit check; times in the office's time zone",
        None,
        s.TranscriptOut,
    ),
    (
        "get",
        "/api/cases/{number}/transcript.html",
        "The transcript document as one printable HTML page (inline CSS, nothing fetched)",
        None,
        None,
    ),
    (
        "get",
        "/api/cases/{number}/transcript.pdf",
        "The transcript document as a PDF (A4, Chinese text embedded in Noto Sans CJK SC)",
        None,
        None,
    ),
    (
        "put",
        "/api/cases/{number}/summary",
        "Write the mediator's summary of the case (the newest is current; all stay on record)",
        s.SummaryIn,
        s.TranscriptSummary,
    ),
    (
        "get",
        "/api/my-work",
        "The logged-in mediator's day: sittings today and upcoming, parties not yet joined,"
        " cases awaiting acceptance or near a deadline, agreements not yet performed",
        None,
        ss.MyWorkOut,
    ),
    (
        "get",
        "/api/stats",
        "The office's figures for a period (from, to: YYYY-MM-DD; category; mediator) against"
        " the same period a year earlier, by month and by category; a mediator sees only their"
        " own (another's: 403 not_your_figures)",
        None,
        ss.StatsOut,
    ),
    (
        "get",
        "/api/stats/cases",
        "The cases behind one figure (figure, from, to, category, mediator, page, per_page)",
        None,
        s.CaseList,
    ),
    (
        "get",
        "/api/stats/export.csv",
        "The figures as CSV (UTF-8 with BOM; the same query as /api/stats)",
        None,
        None,
    ),
    (
        "get",
        "/api/stats/export.xlsx",
        "The figures as an Excel workbook: one sheet per table, Chinese headers",
        None,
        None,
    ),
    (
        "get",
        "/api/stats/summary.pdf",
        "A one-page PDF summary of the figures: period, office, generation time",
        None,
        None,
    ),
]

OPERATIONS += [
    (
        "get",
        "/api/cases/{number}/sittings/{sitting_id}/termination.pdf",
        "The termination notice (调解终止通知书) of a sitting that ended as not_settled",
        None,
        None,
    ),
    (
        "get",
        "/api/cases/{number}/satisfaction",
        "The parties' satisfaction answers (满意度), as given",
        None,
        s.SatisfactionList,
    ),
    (
        "get",
        "/api/cases/{number}/bundle.zip",
        "The case bundle for a court or supervisor (recordings=1 adds the recording files); "
        "check it with `mediation-room verify BUNDLE.zip`",
        None,
        None,
    ),
]

# Operations of a room's participants: authorised by the join link's token
# (``Authorization: Bearer <token>``), not by a mediator's session.
ROOM_OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None]] = [
    (
        "get",
        "/api/rooms/{room_id}/satisfaction",
        "The party's satisfaction answer, or null (after the sitting ended)",
        None,
        s.SatisfactionAnswer,
    ),
    (
        "post",
        "/api/rooms/{room_id}/satisfaction",
        "Rate the mediation 1–5 with an optional comment, once per party and case (201; 409 "
        "already_answered, sitting_not_ended)",
        s.SatisfactionIn,
        s.SatisfactionOut,
    ),
    (
        "post",
        "/api/rooms/{room_id}/evidence",
        "Submit a file: JPEG, PNG, HEIC/HEIF or PDF, at most 20 MiB, recognised by its content",
        s.EvidenceUpload,
        s.EvidenceUploaded,
    ),
    (
        "get",
        "/api/rooms/{room_id}/evidence",
        "The files this participant may see",
        None,
        s.EvidenceList,
    ),
    (
        "get",
        "/api/rooms/{room_id}/evidence/{evidence_id}",
        "One file (range requests supported), to the mediator, its uploader or whom it was shown",
        None,
        None,
    ),
]

AGREEMENT_OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None]] = [
    (
        "get",
        "/api/cases/{number}/agreement",
        "The case's current settlement agreement and every signature (voided ones too)",
        None,
        s.AgreementOut,
    ),
    (
        "get",
        "/api/cases/{number}/agreement.pdf",
        "The sealed agreement's PDF (made on the first request)",
        None,
        None,
    ),
    (
        "post",
        "/api/cases/{number}/agreement/performed",
        "Record that the sealed agreement was performed",
        s.PerformedIn,
        s.AgreementOut,
    ),
    (
        "get",
        "/api/rooms/{room_id}/agreement.pdf",
        "A party's copy of the sealed agreement, for 30 days after signing (410 afterwards)",
        None,
        None,
    ),
    (
        "get",
        "/api/verify/{code}",
        "Public: the facts of a sealed agreement by its verification code (names masked)",
        None,
        s.VerifyOut,
    ),
    (
        "post",
        "/api/verify/{code}",
        "Public: whether an uploaded PDF (at most 10 MiB) is the sealed agreement's",
        s.VerifyPdfUpload,
        s.VerifyPdfOut,
    ),
]

_MULTIPART: set[type[BaseModel]] = {s.VerifyPdfUpload, s.EvidenceUpload}
_EVIDENCE_TYPES = ("image/jpeg", "image/png", "image/heic", "application/pdf")
_FILES = {
    "/api/cases/{number}/evidence/{evidence_id}/file": _EVIDENCE_TYPES,
    "/api/rooms/{room_id}/evidence/{evidence_id}": _EVIDENCE_TYPES,
    "/api/cases/{number}/recordings/{recording_id}/file": ("video/webm", "video/x-matroska"),
    "/api/cases/{number}/playback/{job_id}/file": ("video/mp4",),
    "/api/cases/{number}/transcript.html": ("text/html",),
    "/api/cases/{number}/transcript.pdf": ("application/pdf",),
    "/api/cases/{number}/agreement.pdf": ("application/pdf",),
    "/api/rooms/{room_id}/agreement.pdf": ("application/pdf",),
    "/api/cases/{number}/sittings/{sitting_id}/termination.pdf": ("application/pdf",),
    "/api/cases/{number}/bundle.zip": ("application/zip",),
    "/api/stats/export.csv": ("text/csv",),
    "/api/stats/export.xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "/api/stats/summary.pdf": ("application/pdf",),
}


def openapi_document() -> dict[str, Any]:
    components: dict[str, Any] = {
        "ErrorBody": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "event": {"type": ["string", "null"]},
            },
        }
    }
    paths: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            components[name] = definition
        components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    }
    binary = {"schema": {"type": "string", "format": "binary"}}
    operations = [*OPERATIONS, *ROOM_OPERATIONS, *AGREEMENT_OPERATIONS]
    for method, path, summary, request, response in operations:
        ok: dict[str, Any] = {"description": "OK"}
        if response is not None:
            ok["content"] = {"application/json": {"schema": ref(response)}}
        elif path in _FILES:
            ok["content"] = {media: binary for media in _FILES[path]}
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {
                "201" if method == "post" and request in _MULTIPART else "200": ok,
                "4XX": {"description": "The error body", **error},
            },
        }
        if request is not None:
            media = "multipart/form-data" if request in _MULTIPART else "application/json"
            operation["requestBody"] = {
                "required": True,
                "content": {media: {"schema": ref(request)}},
            }
        if path.startswith("/api/rooms/"):
            operation["security"] = [{"invitation": []}]
        params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
        if params:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in params
            ]
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cloud mediation room", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "invitation": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the invitation token of the participant's join link",
                }
            },
        },
    }
