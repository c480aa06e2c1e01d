"""The transcript document (调解笔录) over HTTP: JSON, a printable HTML page, a PDF, and the
mediator's summary.

Only the case's own mediator reaches them (the same rule as the recordings: caucus talk is in
there); any other case answers 404 as if it did not exist. The PDF is made in a child process
(:mod:`cases.pdf`), so the event loop that relays the media only waits for it.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web

from cases import db
from cases import transcript_doc as doc
from cases.pdf import PdfError
from server import api_schemas as s
from server.api import office_case, read_body, respond
from server.auth import current_mediator
from server.errors import ApiError
from server.keys import DATABASE, OFFICE

logger = logging.getLogger(__name__)

HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
"""The page carries its own CSS and nothing else: no script, no image, no fetch."""


async def _timeline(request: web.Request) -> dict[str, Any]:
    mediator = await current_mediator(request)
    async with db.session_factory(request.app[DATABASE])() as session:
        case = await office_case(session, mediator, request.match_info["number"], own=True)
        return await doc.build_timeline(session, case.id, timezone=request.app[OFFICE].timezone)


def _filename(number: str, extension: str) -> str:
    """``调解笔录-<number>.<ext>`` as RFC 6266 wants a non-ASCII name, with an ASCII fallback."""
    ascii_number = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "_" for c in number)
    return (
        f'filename="transcript-{ascii_number}.{extension}"; '
        f"filename*=UTF-8''{quote(f'调解笔录-{number}.{extension}', safe='')}"
    )


async def get_transcript(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/transcript``: the time line as JSON."""
    timeline = await _timeline(request)
    return respond(s.TranscriptOut.model_validate(timeline))


async def transcript_html(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/transcript.html``: the printable page."""
    timeline = await _timeline(request)
    return web.Response(
        text=doc.render_html(timeline),
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": HTML_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Referrer-Policy": "no-referrer",
            "Content-Disposition": "inline; " + _filename(timeline["case"]["number"], "html"),
        },
    )


async def transcript_pdf(request: web.Request) -> web.Response:
    """``GET /api/cases/{number}/transcript.pdf``: the same page as a PDF download."""
    timeline = await _timeline(request)
    number = timeline["case"]["number"]
    try:
        pdf = await doc.render_pdf_async(doc.render_html(timeline))
    except PdfError as exc:
        logger.error("transcript PDF of case %s refused: %s", number, exc.message)
        raise ApiError(500, exc.code, exc.message) from exc
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Disposition": "attachment; " + _filename(number, "pdf"),
        },
    )


async def put_summary(request: web.Request) -> web.Response:
    """``PUT /api/cases/{number}/summary``: write the mediator's summary (audited)."""
    mediator = await current_mediator(request)
    body = await read_body(request, s.SummaryIn)
    async with db.session_factory(request.app[DATABASE])() as session, session.begin():
        case = await office_case(session, mediator, request.match_info["number"], own=True)
        entry = await doc.set_summary(session, case.id, body.text, mediator.display_name)
        out = doc.summary_view(entry, request.app[OFFICE].timezone)
    return respond(s.TranscriptSummary.model_validate(out))
