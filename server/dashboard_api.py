"""The office's view over HTTP: the dashboard's figures, the cases behind each figure, the
exports (CSV, Excel, PDF) and a mediator's "my work".

Who sees what: a supervisor the whole office (and any one mediator of it); a mediator only their
own cases' figures — asking for another mediator's answers 403 ``not_your_figures``. Anonymous
requests get 401 as everywhere; the parties' invitation tokens open nothing here.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from cases import stats
from cases import stats_export as export
from cases.deadlines import Flag, current_deadline
from cases.models import (
    Agreement,
    AgreementStatus,
    Attendance,
    Case,
    CaseStatus,
    Mediator,
    Office,
    Sitting,
)
from cases.pdf import PdfError
from server import api_schemas as s
from server import stats_schemas as ss
from server.api import case_out, respond, sessions
from server.auth import current_mediator
from server.errors import ApiError
from server.keys import OFFICE
from server.office import OfficeRules

logger = logging.getLogger(__name__)

SUPERVISOR = "supervisor"
UPCOMING_LIMIT = 50
PARTIES = ("consumer", "business")

DEFINITIONS = {
    "concluded": "办结：调解成功、调解不成（终止）或撤回，按办结日期计；不予受理另计。",
    "on_time": "按期办结：办结日期不晚于受理时确定的调解期限（工作日历，含节假日与调休）；"
    "受理前撤回的按受理期限。",
    "success_rate": "调解成功率 = 调解成功 ÷ 办结（撤回计入办结）。",
    "money": "挽回经济损失：本期调解成功案件记录的挽回金额；中位数按每件调解成功案件。",
    "days": "收到至办结天数：自然日。",
    "sittings": "远程调解场次：本期有当事人首次进入的场次；时长自首次进入至结束。",
    "satisfaction": "满意度：本期当事人提交的评价（1–5 分），满意率为 4 分及以上所占比例。",
    "yoy": "同比：与上年同期相比；比率类指标的变化为百分点。",
}


@dataclass(frozen=True)
class Request:
    """A checked dashboard request: whose figures, which period."""

    mediator: Mediator
    office_name: str
    period: stats.Period
    scope: stats.Scope
    chosen: Mediator | None
    mediators: list[Mediator]


def _bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _date(request: web.Request, name: str, default: dt.date) -> dt.date:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise _bad("invalid_date", f"{name}: {raw[:40]!r} is not a date (YYYY-MM-DD)") from exc


async def read_request(request: web.Request) -> Request:
    """The logged-in mediator's dashboard request, checked; any problem is a 4xx, nothing read."""
    mediator = await current_mediator(request)
    rules: OfficeRules = request.app[OFFICE]
    today = rules.today()
    start = _date(request, "from", today.replace(day=1))
    end = _date(request, "to", today)
    try:
        period = stats.Period(start, end)
    except stats.BadQuery as exc:
        raise _bad(exc.code, exc.message) from exc
    category = request.query.get("category", "").strip() or None
    if category is not None and category not in rules.categories:
        raise _bad("unknown_category", f"category: must be one of {', '.join(rules.categories)}")
    raw_mediator = request.query.get("mediator", "").strip()
    wanted: int | None = None
    if raw_mediator:
        try:
            wanted = int(raw_mediator)
        except ValueError as exc:
            raise _bad("invalid_mediator", "mediator: give a mediator's id (a number)") from exc
    async with sessions(request)() as session:
        office = await session.get(Office, mediator.office_id)
        colleagues = list(
            (
                await session.execute(
                    select(Mediator)
                    .where(Mediator.office_id == mediator.office_id)
                    .order_by(Mediator.display_name, Mediator.id)
                )
            ).scalars()
        )
    supervisor = mediator.role == SUPERVISOR
    if not supervisor:
        if wanted is not None and wanted != mediator.id:
            raise ApiError(
                403,
                "not_your_figures",
                "a mediator sees their own figures and cases only; ask a supervisor",
            )
        wanted = mediator.id
    chosen = None
    if wanted is not None:
        chosen = next((m for m in colleagues if m.id == wanted), None)
        if chosen is None:
            raise _bad("unknown_mediator", f"mediator: no mediator {wanted} in your office")
    return Request(
        mediator=mediator,
        office_name=office.name if office is not None else "",
        period=period,
        scope=stats.Scope(mediator.office_id, category, wanted),
        chosen=chosen,
        mediators=colleagues if supervisor else [mediator],
    )


def _choice(m: Mediator) -> ss.MediatorChoice:
    return ss.MediatorChoice(id=m.id, display_name=m.display_name, role=m.role)


async def _report(request: web.Request, asked: Request) -> stats.Report:
    rules: OfficeRules = request.app[OFFICE]
    async with sessions(request)() as session:
        return await stats.report(
            session,
            asked.period,
            asked.scope,
            timezone=rules.timezone,
            categories=rules.categories if asked.scope.category is None else (),
        )


def _now(rules: OfficeRules) -> dt.datetime:
    return dt.datetime.now(ZoneInfo(rules.timezone))


def stats_out(report: stats.Report, asked: Request, rules: OfficeRules) -> ss.StatsOut:
    return ss.StatsOut(
        office_name=asked.office_name,
        scope="office" if asked.scope.mediator_id is None else "mediator",
        mediator=None if asked.chosen is None else _choice(asked.chosen),
        category=asked.scope.category,
        period=ss.PeriodOut(start=report.period.start, end=report.period.end),
        previous_period=ss.PeriodOut(
            start=report.previous_period.start, end=report.previous_period.end
        ),
        timezone=rules.timezone,
        generated_at=_now(rules),
        rows=[
            ss.FigureRowOut(
                key=r.key,
                label=r.label,
                figure=r.figure,
                current=r.current,
                previous=r.previous,
                change=r.change,
                change_ratio=r.change_ratio,
                rate=r.key in stats.RATES,
            )
            for r in report.rows
        ],
        months=[
            ss.MonthOut(
                month=m.month,
                start=report.period.month(m.month).start,
                end=report.period.month(m.month).end,
                received=m.received,
                concluded=m.concluded,
                settled=m.settled,
                success_rate=m.success_rate,
                money_recovered=m.money_recovered,
            )
            for m in report.months
        ],
        categories=[
            ss.CategoryOut(
                category=c.category,
                received=c.received,
                concluded=c.concluded,
                on_time=c.on_time,
                settled=c.settled,
                success_rate=c.success_rate,
                money_recovered=c.money_recovered,
            )
            for c in report.categories
        ],
        mediators=[_choice(m) for m in asked.mediators],
        definitions=DEFINITIONS,
    )


async def get_stats(request: web.Request) -> web.Response:
    """``GET /api/stats?from=&to=&category=&mediator=``: the dashboard's figures."""
    asked = await read_request(request)
    report = await _report(request, asked)
    return respond(stats_out(report, asked, request.app[OFFICE]))


async def figure_cases(request: web.Request) -> web.Response:
    """``GET /api/stats/cases?figure=…&from=&to=&category=&mediator=&page=&per_page=``: the
    cases behind one figure, in the case list's shape."""
    asked = await read_request(request)
    figure = request.query.get("figure", "")
    if figure not in stats.FIGURES:
        raise _bad("unknown_figure", f"figure: must be one of {', '.join(stats.FIGURES)}")
    try:
        page = max(1, int(request.query.get("page", "1")))
        per_page = min(100, max(1, int(request.query.get("per_page", "20"))))
    except ValueError as exc:
        raise _bad("invalid_page", "page and per_page must be numbers") from exc
    rules: OfficeRules = request.app[OFFICE]
    query = stats.cases_behind(figure, asked.period, asked.scope, rules.timezone)
    async with sessions(request)() as session:
        total = (
            await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))
        ).scalar_one()
        rows = await session.execute(
            query.options(selectinload(Case.parties)).offset((page - 1) * per_page).limit(per_page)
        )
        cases = [case_out(c, rules) for c in rows.scalars().all()]
    return respond(s.CaseList(cases=cases, total=total, page=page, per_page=per_page))


def _heading(asked: Request, report: stats.Report, rules: OfficeRules) -> export.Heading:
    parts = []
    if asked.chosen is not None:
        parts.append(f"调解员 {asked.chosen.display_name}")
    if asked.scope.category is not None:
        parts.append(f"类别 {asked.scope.category}")
    return export.Heading(
        office=asked.office_name,
        scope=" · ".join(parts) or "全部案件",
        generated_at=_now(rules),
        definitions=" ".join(DEFINITIONS.values()),
    )


def _download(body: bytes, content_type: str, asked: Request, suffix: str) -> web.Response:
    name = f"调解统计_{asked.period.start.isoformat()}_{asked.period.end.isoformat()}.{suffix}"
    ascii_name = f"mediation-stats_{asked.period.start}_{asked.period.end}.{suffix}"
    return web.Response(
        body=body,
        headers={
            "Content-Type": content_type,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name)}",
        },
    )


async def export_csv(request: web.Request) -> web.Response:
    asked = await read_request(request)
    report = await _report(request, asked)
    body = export.to_csv(report, _heading(asked, report, request.app[OFFICE]))
    return _download(body, "text/csv; charset=utf-8", asked, "csv")


async def export_xlsx(request: web.Request) -> web.Response:
    asked = await read_request(request)
    report = await _report(request, asked)
    body = export.to_xlsx(report, _heading(asked, report, request.app[OFFICE]))
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(body, content_type, asked, "xlsx")


async def export_pdf(request: web.Request) -> web.Response:
    asked = await read_request(request)
    report = await _report(request, asked)
    try:
        body = await export.to_pdf(report, _heading(asked, report, request.app[OFFICE]))
    except PdfError as exc:
        logger.error("statistics PDF refused: %s", exc.message)
        raise ApiError(500, exc.code, exc.message) from exc
    return _download(body, "application/pdf", asked, "pdf")


# -- my work ---------------------------------------------------------------------------------


async def my_work(request: web.Request) -> web.Response:
    """``GET /api/my-work``: what is due for the logged-in mediator's own cases."""
    mediator = await current_mediator(request)
    rules: OfficeRules = request.app[OFFICE]
    now = _now(rules)
    today = now.date()
    zone = ZoneInfo(rules.timezone)
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), zone)
    midnight = dt.datetime.combine(today, dt.time(), zone)
    own = Case.mediator_id == mediator.id
    async with sessions(request)() as session:
        open_sittings = (
            await session.execute(
                select(Sitting, Case.number, Case.title)
                .join(Case, Case.id == Sitting.case_id)
                .where(own, Sitting.closed_at.is_(None))
                .order_by(Sitting.scheduled_at, Sitting.id)
            )
        ).all()
        ids = [row[0].id for row in open_sittings]
        joined: dict[int, set[str]] = {}
        if ids:
            for sitting_id, role in await session.execute(
                select(Attendance.sitting_id, Attendance.role)
                .where(Attendance.sitting_id.in_(ids))
                .distinct()
            ):
                joined.setdefault(sitting_id, set()).add(role)
        open_statuses = (
            CaseStatus.RECEIVED.value,
            CaseStatus.ACCEPTED.value,
            CaseStatus.IN_MEDIATION.value,
        )
        open_cases = (
            (await session.execute(select(Case).where(own, Case.status.in_(open_statuses))))
            .scalars()
            .all()
        )
        agreements = (
            await session.execute(
                select(Agreement, Case.number, Case.title)
                .join(Case, Case.id == Agreement.case_id)
                .where(
                    own,
                    Agreement.status == AgreementStatus.SEALED.value,
                    Agreement.performed_on.is_(None),
                )
                .order_by(Agreement.performance_due_on, Agreement.id)
            )
        ).all()

    def sitting(row: tuple[Sitting, str, str]) -> ss.WorkSitting:
        sit, number, title = row
        roles = joined.get(sit.id, set())
        return ss.WorkSitting(
            case_number=number,
            case_title=title,
            sitting_id=sit.id,
            room_id=sit.room_id,
            scheduled_at=sit.scheduled_at,
            opened_at=sit.opened_at,
            joined=sorted(roles),
            missing=[p for p in PARTIES if p not in roles],
        )

    rows = [(r[0], r[1], r[2]) for r in open_sittings]
    when = {r[0].id: r[0].scheduled_at for r in rows if r[0].scheduled_at is not None}
    todays = [r for r in rows if r[0].id in when and midnight <= when[r[0].id] < tomorrow]
    upcoming = [r for r in rows if r[0].id in when and when[r[0].id] >= tomorrow]
    upcoming = upcoming[:UPCOMING_LIMIT]
    waiting = [r for r in rows if any(p not in joined.get(r[0].id, set()) for p in PARTIES)]

    def work_case(case: Case) -> ss.WorkCase | None:
        deadline = current_deadline(case, rules.calendar, rules.deadlines, today)
        if deadline is None:
            return None
        return ss.WorkCase(
            number=case.number,
            title=case.title,
            status=case.status,
            category=case.category,
            received_on=case.received_on,
            deadline=s.DeadlineOut(
                what=deadline.what,
                due=deadline.due,
                working_days_left=deadline.working_days_left,
                flag=deadline.flag.value,
            ),
        )

    described = [w for w in (work_case(c) for c in open_cases) if w is not None]
    described.sort(key=lambda w: (w.deadline.due, w.number))
    awaiting = [w for w in described if w.status == CaseStatus.RECEIVED.value]
    near = [
        w
        for w in described
        if w.status != CaseStatus.RECEIVED.value and w.deadline.flag != Flag.OK.value
    ]
    out = ss.MyWorkOut(
        today=today,
        timezone=rules.timezone,
        sittings_today=[sitting(r) for r in todays],
        sittings_upcoming=[sitting(r) for r in upcoming],
        waiting_for_parties=[sitting(r) for r in waiting],
        awaiting_acceptance=awaiting,
        near_deadline=near,
        unperformed_agreements=[
            ss.WorkAgreement(
                agreement_id=a.id,
                case_number=number,
                case_title=title,
                amount=a.amount,
                performance_due_on=a.performance_due_on,
                days_left=None
                if a.performance_due_on is None
                else (a.performance_due_on - today).days,
            )
            for a, number, title in agreements
        ],
    )
    return respond(out)
