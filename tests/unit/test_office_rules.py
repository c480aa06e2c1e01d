import datetime as dt
import json
from pathlib import Path

import pytest

from server.office import DEFAULT_CATEGORIES, load_office_rules


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "office.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    rules = load_office_rules(None)
    assert rules.categories == DEFAULT_CATEGORIES
    assert (rules.deadlines.acceptance_days, rules.deadlines.mediation_days) == (7, 45)


def test_a_file_sets_categories_holidays_and_deadlines(tmp_path: Path) -> None:
    rules = load_office_rules(
        write(
            tmp_path,
            {
                "categories": ["家用电器", "物业"],
                "holidays": ["2026-10-01"],
                "makeup_days": ["2026-10-10"],
                "mediation_days": 60,
            },
        )
    )
    assert rules.categories == ("家用电器", "物业")
    assert not rules.calendar.is_working_day(dt.date(2026, 10, 1))
    assert rules.calendar.is_working_day(dt.date(2026, 10, 10))
    assert rules.deadlines.mediation_days == 60
    assert rules.deadlines.acceptance_days == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"holiday": []}, "unknown keys"),
        ({"holidays": ["2026-13-01"]}, "holidays must be a list"),
        ({"mediation_days": 0}, "mediation_days must be"),
        ({"categories": []}, "categories must be"),
        ({"recording_retention_days": 0}, "recording_retention_days must be"),
        ({"recording_retention_days": "365"}, "recording_retention_days must be"),
        ({"recording_retention_days": True}, "recording_retention_days must be"),
        ([], "expected a JSON object"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_office_rules(write(tmp_path, data))


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_office_rules(tmp_path / "missing.json")


def test_recording_retention_is_off_unless_set(tmp_path: Path) -> None:
    assert load_office_rules(None).recording_retention_days is None
    assert load_office_rules(write(tmp_path, {})).recording_retention_days is None
    rules = load_office_rules(write(tmp_path, {"recording_retention_days": 365}))
    assert rules.recording_retention_days == 365
    forever = load_office_rules(write(tmp_path, {"recording_retention_days": None}))
    assert forever.recording_retention_days is None
