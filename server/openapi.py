"""The OpenAPI document of the REST API, built from the same pydantic models the handlers use."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from server import api_schemas as s

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
]

# Operations of a room's participants: authorised by the join link's token
# (``Authorization: Bearer <token>``), not by a mediator's session.
ROOM_OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, type[BaseModel] | None]] = [
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

_MULTIPART: set[type[BaseModel]] = {s.EvidenceUpload}
_EVIDENCE_TYPES = ("image/jpeg", "image/png", "image/heic", "application/pdf")
_FILES = {
    "/api/cases/{number}/evidence/{evidence_id}/file": _EVIDENCE_TYPES,
    "/api/rooms/{room_id}/evidence/{evidence_id}": _EVIDENCE_TYPES,
    "/api/cases/{number}/recordings/{recording_id}/file": ("video/webm", "video/x-matroska"),
    "/api/cases/{number}/playback/{job_id}/file": ("video/mp4",),
    "/api/cases/{number}/transcript.html": ("text/html",),
    "/api/cases/{number}/transcript.pdf": ("application/pdf",),
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
    for method, path, summary, request, response in [*OPERATIONS, *ROOM_OPERATIONS]:
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
