"""Domain errors of the case record, each with a stable ``code``."""

from __future__ import annotations


class CaseError(Exception):
    """Base of the case record's errors; ``code`` is what clients see."""

    code = "case_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvitationError(CaseError):
    """An invitation token was refused."""

    code = "token_invalid"


class TokenMissing(InvitationError):
    code = "token_missing"


class TokenMalformed(InvitationError):
    code = "token_malformed"


class TokenInvalid(InvitationError):
    code = "token_invalid"


class TokenExpired(InvitationError):
    code = "token_expired"


class TokenForeign(InvitationError):
    code = "token_foreign"


class TokenRevoked(InvitationError):
    code = "token_revoked"


class TokenUnknown(InvitationError):
    """Validly signed, but not among the case's stored invitations."""

    code = "token_unknown"


class SittingEnded(InvitationError):
    """A stored link of the case, but for an earlier sitting that has ended."""

    code = "sitting_ended"
