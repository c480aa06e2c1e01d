"""An office's own rules: case categories, the working-day calendar, the deadlines.

Read from a JSON file (``--office-config``), because they change by year and by office:
``{"categories": [...], "holidays": ["2026-10-01", ...], "makeup_days": ["2026-10-10"],
"acceptance_days": 7, "mediation_days": 45, "warn_days": 2, "timezone": "Asia/Shanghai",
"recording_retention_days": 365}`` — every key optional.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cases.calendar import WorkingCalendar
from cases.deadlines import DeadlineRules

DEFAULT_CATEGORIES = (
    "家用电器",
    "预付卡",
    "网络购物",
    "餐饮",
    "美容美发",
    "汽车",
    "房屋装修",
    "教育培训",
    "其他",
)


@dataclass(frozen=True)
class OfficeRules:
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    deadlines: DeadlineRules = field(default_factory=DeadlineRules)
    timezone: str = "Asia/Shanghai"
    """Whose calendar day counts: receipt, acceptance, deadlines are dates in this zone."""
    recording_retention_days: int | None = None
    """Calendar days after a case concludes until its recordings' files are deleted (the rows,
    hashes and audit events stay); ``None`` keeps them forever."""

    def today(self) -> dt.date:
        return dt.datetime.now(ZoneInfo(self.timezone)).date()


def load_office_rules(path: Path | None) -> OfficeRules:
    """The rules in ``path`` (defaults where a key is absent); errors name the key and file."""
    if path is None:
        return OfficeRules()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the office configuration {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    unknown = set(data) - {
        "categories",
        "holidays",
        "makeup_days",
        "acceptance_days",
        "mediation_days",
        "warn_days",
        "timezone",
        "recording_retention_days",
    }
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")

    def dates(key: str) -> list[dt.date]:
        try:
            return [dt.date.fromisoformat(d) for d in data.get(key, [])]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {key} must be a list of YYYY-MM-DD dates ({exc})") from exc

    def days(key: str, default: int) -> int:
        value = data.get(key, default)
        if not isinstance(value, int) or not 1 <= value <= 365:
            raise ValueError(f"{path}: {key} must be a whole number of working days, 1–365")
        return value

    categories = data.get("categories", list(DEFAULT_CATEGORIES))
    if not (
        isinstance(categories, list)
        and categories
        and all(isinstance(c, str) and 0 < len(c) <= 40 for c in categories)
    ):
        raise ValueError(f"{path}: categories must be a non-empty list of names (≤ 40 characters)")
    timezone = data.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: timezone {timezone!r} is not a known time zone") from exc
    retention = data.get("recording_retention_days")
    # bool is an int in Python; ``true`` is not a number of days.
    if retention is not None and (
        not isinstance(retention, int) or isinstance(retention, bool) or not 1 <= retention <= 36500
    ):
        raise ValueError(
            f"{path}: recording_retention_days must be a whole number of calendar days, "
            "1–36500, or null to keep recordings forever"
        )
    return OfficeRules(
        timezone=timezone,
        recording_retention_days=retention,
        categories=tuple(categories),
        calendar=WorkingCalendar.of(dates("holidays"), dates("makeup_days")),
        deadlines=DeadlineRules(
            acceptance_days=days("acceptance_days", 7),
            mediation_days=days("mediation_days", 45),
            warn_days=days("warn_days", 2),
        ),
    )
