import time

import pytest

from cases.errors import TokenExpired, TokenForeign, TokenInvalid, TokenMalformed, TokenMissing
from cases.invitations import Invitation, issue_token, read_claims, verify_token

SECRET = b"k" * 32


def invitation(**changes: object) -> Invitation:
    fields: dict[str, object] = {
        "room_id": "r1",
        "participant_id": "consumer",
        "role": "consumer",
        "name": "李女士",
        "expires_at": int(time.time()) + 60,
    }
    fields.update(changes)
    return Invitation(**fields)  # type: ignore[arg-type]


def test_round_trip_keeps_every_claim() -> None:
    inv = invitation()
    assert verify_token(SECRET, issue_token(SECRET, inv), "r1") == inv


def test_claims_are_readable_without_the_secret() -> None:
    assert read_claims(issue_token(SECRET, invitation())).name == "李女士"


@pytest.mark.parametrize("position", [5, 40, -3])
def test_any_changed_character_is_refused(position: int) -> None:
    token = issue_token(SECRET, invitation())
    changed = token[position]
    flipped = "A" if changed != "A" else "B"
    tampered = token[:position] + flipped + token[position + 1 :]
    with pytest.raises((TokenInvalid, TokenMalformed)):
        verify_token(SECRET, tampered, "r1")


def test_changed_claims_with_valid_shape_fail_the_signature() -> None:
    token = issue_token(SECRET, invitation(role="consumer"))
    forged_claims = issue_token(b"x" * 32, invitation(role="mediator")).split(".")[1]
    version, _, signature = token.split(".")
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, f"{version}.{forged_claims}.{signature}", "r1")


def test_another_deployments_token_is_invalid() -> None:
    with pytest.raises(TokenInvalid):
        verify_token(SECRET, issue_token(b"other-secret-xxxxxxxx", invitation()), "r1")


def test_expired() -> None:
    token = issue_token(SECRET, invitation(expires_at=1000))
    with pytest.raises(TokenExpired):
        verify_token(SECRET, token, "r1", now=1000)
    assert verify_token(SECRET, token, "r1", now=999).expires_at == 1000


def test_foreign_room() -> None:
    with pytest.raises(TokenForeign):
        verify_token(SECRET, issue_token(SECRET, invitation(room_id="r2")), "r1")


@pytest.mark.parametrize("token", [None, ""])
def test_missing(token: str | None) -> None:
    with pytest.raises(TokenMissing):
        verify_token(SECRET, token, "r1")


@pytest.mark.parametrize("token", ["abc", "v1.abc", "v2.a.b", "v1.!!!.sig", "v1.e30.sig"])
def test_malformed(token: str) -> None:
    with pytest.raises(TokenMalformed):
        verify_token(SECRET, token, "r1")


def test_unknown_role_cannot_be_issued() -> None:
    with pytest.raises(ValueError):
        issue_token(SECRET, invitation(role="judge"))


def test_a_rotated_out_key_still_opens_its_links_until_it_is_dropped() -> None:
    old, new = b"o" * 32, b"n" * 32
    issued_before = issue_token(old, invitation())
    # Current key first, the previous one after: both kinds of link work.
    assert verify_token((new, old), issued_before, "r1").name == "李女士"
    assert verify_token((new, old), issue_token(new, invitation()), "r1").name == "李女士"
    # Once the previous key is dropped, its links stop working.
    with pytest.raises(TokenInvalid):
        verify_token((new,), issued_before, "r1")
    with pytest.raises(TokenInvalid):
        verify_token((new, old), issue_token(b"x" * 32, invitation()), "r1")
