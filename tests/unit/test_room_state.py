import pytest

from rooms.errors import IllegalTransition
from rooms.model import Participant, Role, RoomState, check_transition


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
    assert view == {
        "id": "consumer",
        "role": "consumer",
        "name": "李女士",
        "audio": True,
        "video": True,
        "connected": True,
    }
    assert "sid-1" not in str(view)
