import stat
from pathlib import Path

import pytest

from server.config import load_previous_secrets, load_secret, parse_ice_servers


def test_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = load_secret(tmp_path, env={})
    assert len(first) >= 32
    assert load_secret(tmp_path, env={}) == first
    mode = stat.S_IMODE((tmp_path / "secret.key").stat().st_mode)
    assert mode == 0o600


def test_secret_from_environment_wins(tmp_path: Path) -> None:
    assert load_secret(tmp_path, env={"MEDIATION_ROOM_SECRET": "s" * 20}) == b"s" * 20
    assert not (tmp_path / "secret.key").exists()


def test_short_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too short"):
        load_secret(tmp_path, env={"MEDIATION_ROOM_SECRET": "short"})


def test_ice_servers_default_to_none() -> None:
    assert parse_ice_servers(None) == ()
    assert parse_ice_servers("") == ()


def test_ice_servers_from_urls_and_json() -> None:
    assert parse_ice_servers("stun:127.0.0.1:3478") == ({"urls": ["stun:127.0.0.1:3478"]},)
    servers = parse_ice_servers(
        '[{"urls": ["turn:127.0.0.1"], "username": "u", "credential": "c"}]'
    )
    assert servers[0]["username"] == "u"
    with pytest.raises(ValueError):
        parse_ice_servers('[{"username": "u"}]')


def test_previous_secrets_from_file_and_environment(tmp_path: Path) -> None:
    assert load_previous_secrets(tmp_path, env={}) == ()
    (tmp_path / "secret.previous.key").write_text("f" * 32 + "\n\n" + "g" * 32 + "\n")
    env = {"MEDIATION_ROOM_PREVIOUS_SECRET": "e" * 20 + ", " + "h" * 20}
    assert load_previous_secrets(tmp_path, env=env) == (
        b"e" * 20,
        b"h" * 20,
        b"f" * 32,
        b"g" * 32,
    )
    with pytest.raises(ValueError, match="PREVIOUS_SECRET"):
        load_previous_secrets(tmp_path, env={"MEDIATION_ROOM_PREVIOUS_SECRET": "short"})
