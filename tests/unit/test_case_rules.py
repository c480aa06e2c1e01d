import datetime as dt
from decimal import Decimal

import pytest

from cases.audit import GENESIS, event_hash, verify_chain
from cases.calendar import WorkingCalendar
from cases.deadlines import DeadlineRules, Flag, current_deadline
from cases.models import Case
from cases.passwords import hash_password, verify_password
from cases.repository import InvalidField, mask_id_number, mask_phone, parse_amount

D = dt.date
# 2026 National Day: 1–8 October off, Sunday 27 September and Saturday 10 October worked.
NATIONAL_DAY = WorkingCalendar.of(
    holidays=[D(2026, 10, d) for d in range(1, 9)], makeup_days=[D(2026, 9, 27), D(2026, 10, 10)]
)


def test_weekends_are_skipped() -> None:
    plain = WorkingCalendar()
    assert plain.add_working_days(D(2026, 11, 20), 1) == D(2026, 11, 23)  # Fri → Mon
    assert plain.add_working_days(D(2026, 11, 20), 7) == D(2026, 12, 1)
    assert plain.working_days_between(D(2026, 11, 20), D(2026, 12, 1)) == 7
    assert plain.working_days_between(D(2026, 12, 1), D(2026, 11, 20)) == -7


def test_holidays_and_makeup_days() -> None:
    assert not NATIONAL_DAY.is_working_day(D(2026, 10, 5))
    assert NATIONAL_DAY.is_working_day(D(2026, 10, 10))  # a Saturday, worked
    # Received Wed 30 Sep: working days after it are Fri 9 Oct, Sat 10 Oct, Mon 12 Oct…
    assert NATIONAL_DAY.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 9)
    assert NATIONAL_DAY.add_working_days(D(2026, 9, 30), 2) == D(2026, 10, 10)
    assert NATIONAL_DAY.add_working_days(D(2026, 9, 30), 7) == D(2026, 10, 16)


def test_a_day_cannot_be_both() -> None:
    with pytest.raises(ValueError):
        WorkingCalendar.of(holidays=[D(2026, 1, 1)], makeup_days=[D(2026, 1, 1)])


def case(status: str, received: dt.date, accepted: dt.date | None = None) -> Case:
    return Case(status=status, received_on=received, accepted_on=accepted)


def test_acceptance_deadline_and_flags() -> None:
    rules = DeadlineRules()
    received = case("received", D(2026, 9, 30))
    ok = current_deadline(received, NATIONAL_DAY, rules, today=D(2026, 10, 9))
    assert ok is not None
    assert (ok.what, ok.due, ok.working_days_left, ok.flag) == (
        "acceptance",
        D(2026, 10, 16),
        6,  # Sat 10 Oct (a make-up working day), then 12–16 Oct
        Flag.OK,
    )
    soon = current_deadline(received, NATIONAL_DAY, rules, today=D(2026, 10, 14))
    assert soon is not None and soon.flag is Flag.DUE_SOON
    late = current_deadline(received, NATIONAL_DAY, rules, today=D(2026, 10, 19))
    assert late is not None and late.flag is Flag.OVERDUE and late.working_days_left == -1


def test_mediation_deadline_is_configurable() -> None:
    accepted = case("in_mediation", D(2026, 11, 2), accepted=D(2026, 11, 3))
    d45 = current_deadline(accepted, WorkingCalendar(), DeadlineRules(), today=D(2026, 11, 3))
    d60 = current_deadline(
        accepted, WorkingCalendar(), DeadlineRules(mediation_days=60), today=D(2026, 11, 3)
    )
    assert d45 is not None and d60 is not None
    assert d45.due == D(2027, 1, 5) and d60.due == D(2027, 1, 26)
    assert (
        current_deadline(
            case("settled", D(2026, 1, 1)), WorkingCalendar(), DeadlineRules(), today=D(2026, 3, 1)
        )
        is None
    )


def test_masks() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("12345") == "*****"
    assert mask_phone(None) is None
    assert mask_id_number("110101199003071234") == "11**************34"


def test_amounts() -> None:
    assert parse_amount("3299") == Decimal("3299.00")
    assert parse_amount(12.5) == Decimal("12.50")
    for bad in ("-0.01", "1.001", "NaN", "Infinity", "1e13", "", "一百"):
        with pytest.raises(InvalidField):
            parse_amount(bad)


def test_passwords() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse!", stored)
    assert not verify_password("correct horse", "garbage")
    with pytest.raises(ValueError):
        hash_password("short")


class Ev:
    def __init__(self, seq: int, prev: str, actor: str = "a") -> None:
        self.case_id, self.seq, self.actor, self.kind = 1, seq, actor, "k"
        self.at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self.payload = {"n": seq}
        self.prev_hash = prev
        self.hash = event_hash(prev, 1, seq, self.at, actor, "k", self.payload)


def test_chain_detects_edit_reorder_and_gap() -> None:
    e1 = Ev(1, GENESIS)
    e2 = Ev(2, e1.hash)
    e3 = Ev(3, e2.hash)
    assert verify_chain([e1, e2, e3]) == []
    e2.actor = "mallory"
    assert [p.seq for p in verify_chain([e1, e2, e3])] == [2]
    e2.actor = "a"
    assert verify_chain([e1, e3])  # a deleted event
    assert verify_chain([e2, e1, e3])  # reordered
