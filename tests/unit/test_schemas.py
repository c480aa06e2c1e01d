import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from signaling import schemas
from signaling.gateway import describe_validation_error, error_body

ROOT = Path(__file__).resolve().parents[2]


def test_join_defaults_and_limits() -> None:
    assert schemas.Join.model_validate({}).video is True
    with pytest.raises(ValidationError):
        schemas.Join.model_validate({"name": ""})
    with pytest.raises(ValidationError):
        schemas.Join.model_validate({"name": "x" * 41})


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        schemas.SetMediaState.model_validate({"audio": True, "video": True, "vidoe": False})


def test_answer_requires_type_sdp_and_revision() -> None:
    with pytest.raises(ValidationError) as err:
        schemas.Answer.model_validate({"type": "answer", "revision": 1})
    assert describe_validation_error("answer", err.value) == "answer.sdp: Field required"
    with pytest.raises(ValidationError):
        schemas.Answer.model_validate({"type": "offer", "sdp": "v=0" * 5, "revision": 1})
    with pytest.raises(ValidationError):
        schemas.Answer.model_validate({"type": "answer", "sdp": "v=0" * 5, "revision": 0})


def test_strings_are_not_coerced_to_booleans_silently() -> None:
    with pytest.raises(ValidationError):
        schemas.SetMediaState.model_validate({"audio": "maybe", "video": True})


def test_error_body_shape() -> None:
    assert error_body("x", "y", "join") == {"code": "x", "message": "y", "event": "join"}
    assert set(error_body("x", "y")) == {"code", "message", "event"}


def test_every_event_is_documented() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    # A section heading, or a row of the table of the mediator's commands.
    headings = set(re.findall(r"^(?:#{3,4} |\| )`([a-z_]+)`", doc, flags=re.M))
    missing = (set(schemas.COMMANDS) | set(schemas.FACTS)) - headings
    assert not missing, f"docs/protocol.md lacks a section for {sorted(missing)}"


def test_every_documented_error_code_is_known() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    codes = set(re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.M))
    for code in ("invalid_payload", "unknown_event", "not_joined", "token_invalid", "internal"):
        assert code in codes
