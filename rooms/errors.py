"""Domain errors of the live room, each with a stable ``code`` that clients see."""

from __future__ import annotations


class RoomError(Exception):
    """Base of the room's errors."""

    code = "room_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RoomNotFound(RoomError):
    code = "room_not_found"


class RoomClosed(RoomError):
    code = "room_closed"


class IllegalTransition(RoomError):
    code = "illegal_transition"


class NotJoined(RoomError):
    code = "not_joined"


class AlreadyJoined(RoomError):
    code = "already_joined"


class StaleAnswer(RoomError):
    code = "stale_answer"


class NoOfferPending(RoomError):
    code = "no_offer_pending"


class NegotiationFailed(RoomError):
    code = "negotiation_failed"


class Forbidden(RoomError):
    """The participant's role may not do this (a party sending a mediator's command)."""

    code = "forbidden"


class ParticipantNotFound(RoomError):
    code = "participant_not_found"


class InvalidState(RoomError):
    """The command does not fit the participant's or the room's state just now."""

    code = "invalid_state"


class NotAdmitted(RoomError):
    code = "not_admitted"


class RoomLocked(RoomError):
    code = "room_locked"


class TooManyAttempts(RoomError):
    code = "too_many_attempts"


class NoPhoneOnFile(RoomError):
    code = "no_phone_on_file"


class EvidenceNotFound(RoomError):
    code = "evidence_not_found"


class AlreadyRecording(InvalidState):
    code = "already_recording"


class NotRecording(InvalidState):
    code = "not_recording"


class RecordingUnavailable(InvalidState):
    """The room keeps no case record (or has nowhere to write): it cannot record."""

    code = "recording_unavailable"


class ConsentMissing(InvalidState):
    """Someone present has not consented to being recorded (the message names them)."""

    code = "consent_missing"


class RoomElsewhere(RoomError):
    """Another node holds this room's media (several nodes): the caller retries and is routed
    there."""

    code = "room_elsewhere"

    def __init__(self, message: str, node_url: str | None = None) -> None:
        super().__init__(message)
        self.node_url = node_url
