"""The HTTP side of the one error shape: ``{"code", "message", "event"}`` with a status."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import ValidationError

from cases import db
from cases.errors import CaseError, InvitationError
from rooms.errors import RoomElsewhere
from signaling.gateway import error_body

logger = logging.getLogger(__name__)

_STATUS_BY_CODE = {
    "case_not_found": 404,
    "invitation_not_found": 404,
    "invalid_status_transition": 409,
    "conflict": 409,
}


class ApiError(Exception):
    """An error to answer with ``status`` and the error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        error_body(code, message), status=status, headers={"Cache-Control": "no-store"}
    )


def describe(exc: ValidationError) -> str:
    """``title: String should have at most 200 characters; …`` — names each field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every ``/api/`` failure becomes the error body; nothing else leaks (no HTML, no trace)."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return json_error(exc.status, exc.code, exc.message)
    except ValidationError as exc:
        return json_error(422, "invalid_payload", describe(exc))
    except InvitationError as exc:
        return json_error(404 if exc.code == "token_unknown" else 403, exc.code, exc.message)
    except CaseError as exc:
        return json_error(_STATUS_BY_CODE.get(exc.code, 422), exc.code, exc.message)
    except RoomElsewhere as exc:  # several nodes: the room moved meanwhile; asked again, it is
        return json_error(503, exc.code, exc.message)  # routed to its node
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except Exception as exc:
        if db.is_unavailable(exc):
            db.log_unavailable(logger, f"{request.method} {request.path}", exc)
            return json_error(503, "database_unavailable", db.UNAVAILABLE_MESSAGE)
        logger.exception("%s %s failed", request.method, request.path)
        return json_error(500, "internal", "the server failed on this request; it was logged")
