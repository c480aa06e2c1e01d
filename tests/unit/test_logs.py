"""JSON log lines: room id picked up, addresses and tokens masked."""

from __future__ import annotations

import json
import logging

from server.logs import JsonFormatter, set_case_lookup


def test_a_json_line_has_the_room_and_no_address_or_token() -> None:
    record = logging.LogRecord(
        "rooms.sfu", logging.INFO, __file__, 1,
        "Sfu(%s) peer from %s with v1.eyJhbGciOiJIUzI1.c2lnbmF0dXJlMTIz", ("demo", "198.51.100.7"),
        None,
    )  # fmt: skip
    line = json.loads(JsonFormatter().format(record))
    assert line["room_id"] == "demo"
    assert line["level"] == "info" and line["logger"] == "rooms.sfu"
    assert "198.51.100.7" not in line["message"] and "[ip]" in line["message"]
    assert "c2lnbmF0dXJlMTIz" not in line["message"]


def test_a_line_about_a_live_room_carries_its_case_id() -> None:
    def record(room: str) -> logging.LogRecord:
        return logging.LogRecord(
            "rooms.room", logging.INFO, __file__, 1, "Room(%s) restored", (room,), None
        )

    set_case_lookup(lambda room_id: 42 if room_id == "demo" else None)
    try:
        assert json.loads(JsonFormatter().format(record("demo")))["case_id"] == 42
        assert "case_id" not in json.loads(JsonFormatter().format(record("gone")))
    finally:
        set_case_lookup(lambda room_id: None)
