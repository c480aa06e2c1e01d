import pytest

from rooms.errors import IllegalTransition
from rooms.model import Participant, Role, RoomState, check_transition
from rooms.sfu import quality_level
from signaling.schemas import ParticipantView


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RoomState.SCHEDULED, RoomState.OPEN),
        (RoomState.OPEN, RoomState.IN_SESSION),
        (RoomState.IN_SESSION, RoomState.OPEN),
        (RoomState.IN_SESSION, RoomState.CONCLUDED),
    ],
)
def test_legal_moves(current: RoomState, target: RoomState) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (RoomState.CONCLUDED, RoomState.OPEN),
        (RoomState.CONCLUDED, RoomState.IN_SESSION),
        (RoomState.SCHEDULED, RoomState.IN_SESSION),
        (RoomState.OPEN, RoomState.SCHEDULED),
    ],
)
def test_illegal_moves_are_named_errors(current: RoomState, target: RoomState) -> None:
    with pytest.raises(IllegalTransition) as err:
        check_transition(current, target)
    assert err.value.code == "illegal_transition"


def test_participant_public_view_has_no_connection_id() -> None:
    p = Participant(id="consumer", role=Role.CONSUMER, name="李女士", connection_id="sid-1")
    view = p.public()
    assert "sid-1" not in str(view)
    ParticipantView.model_validate(view)  # every field the protocol names, and no other
    assert (view["stage"], view["admitted"], view["consent"]) == ("lobby", False, "pending")


def test_the_mediator_needs_neither_admission_nor_consent() -> None:
    p = Participant(id="mediator", role=Role.MEDIATOR, name="王调解员")
    assert p.in_room
    assert (p.public()["stage"], p.public()["consent"]) == ("room", "not_required")


@pytest.mark.parametrize(
    ("rtt_ms", "loss_pct", "level"),
    [
        (None, None, "good"),
        (40, 0.0, "good"),
        (300, 0.5, "fair"),
        (40, 5.0, "fair"),
        (600, 0.0, "poor"),
        (40, 12.0, "poor"),
    ],
)
def test_quality_levels(rtt_ms: float | None, loss_pct: float | None, level: str) -> None:
    assert quality_level(rtt_ms, loss_pct) == level
