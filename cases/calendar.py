"""Working days as Chinese offices count them: weekends off, public holidays off, and the
make-up working days (调休) that turn some weekend days into working days.

The official schedule is published each year; offices configure it (``holidays`` and
``makeup_days``), the code knows no year's dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days."""

    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    """Days off besides weekends (e.g. 国庆节)."""
    makeup_days: frozenset[dt.date] = field(default_factory=frozenset)
    """Weekend days that are working days (调休上班)."""

    @classmethod
    def of(
        cls, holidays: Iterable[dt.date] = (), makeup_days: Iterable[dt.date] = ()
    ) -> WorkingCalendar:
        holidays, makeup_days = frozenset(holidays), frozenset(makeup_days)
        both = holidays & makeup_days
        if both:
            raise ValueError(
                f"a day cannot be both a holiday and a make-up working day: {sorted(both)}"
            )
        return cls(holidays, makeup_days)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.makeup_days:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The day on which ``days`` working days after ``start`` have passed.

        The start day itself is not counted (a complaint received on Friday with a 7-working-day
        limit is due on the 7th working day after it).
        """
        if days < 0:
            raise ValueError("days must not be negative")
        day = start
        left = days
        while left:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start
        while day < end:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count
