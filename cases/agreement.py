"""The settlement agreement (调解协议书): draft, edit, sign, seal, print, verify.

An agreement is drafted from a template (``cases/templates/agreement/<name>.md``, or an office's
own under ``<data dir>/templates/agreement/<name>.md``) filled with structured *terms*; the
rendered, canonical *text* is what every signature binds to (its SHA-256). An edit that changes
the text voids every signature given so far (the rows stay, with ``voided_at``). The consumer
and the business sign first, the mediator last; the mediator's signature seals the agreement:
it gets a verification code and can never change again.

Every change appends an audit event holding a digest of the agreement's state (and of each
signature), so :func:`agreement_problems` — called by :func:`cases.repository.verify_case` —
finds an edited text, a changed sealed agreement, or a deleted or altered signature.

Template placeholders are ``{{ name }}`` or ``{{ consumer.name }}``: plain substitution, no
expressions. A line whose placeholders all came out empty is left out (optional details such as
an ID number that was not given), so templates need no conditionals.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cases.audit import ChainProblem, canonical
from cases.errors import CaseError
from cases.models import (
    Agreement,
    AgreementStatus,
    AuditEvent,
    Case,
    Office,
    Party,
    Signature,
    utcnow,
)
from cases.repository import append_audit, lock_case

__all__ = [
    "MAX_SIGNATURE_BYTES",
    "REMEDIES",
    "ROLES",
    "AgreementError",
    "abandon",
    "agreement_problems",
    "agreement_view",
    "canonical_text",
    "current_agreement",
    "default_terms",
    "find_by_code",
    "mark_performed",
    "normalize_code",
    "render_pdf",
    "render_text",
    "sign",
    "signatures",
    "start_draft",
    "text_sha256",
    "update_terms",
    "validate_terms",
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates" / "agreement"
"""The templates shipped with the code; ``<data dir>/templates/agreement/`` overrides them."""

AGREEMENTS_DIR = "agreements"
"""Under the data directory: ``agreements/<case id>/`` holds signature images and the PDF."""

ROLES = ("consumer", "business", "mediator")
PARTY_ROLES = ("consumer", "business")
ROLE_LABELS = {"consumer": "消费者", "business": "商家", "mediator": "调解员"}

REMEDIES: dict[str, str] = {
    "refund": "退款",
    "compensation": "赔偿",
    "return": "退货",
    "repair": "维修",
    "replace": "更换",
}
"""What the business does for the consumer, in the order clauses list them."""

METHODS = ("微信", "支付宝", "银行转账", "原路退回", "现金")
"""Suggested ways to pay (the field is free text; these are the console's choices)."""

MAX_SIGNATURE_BYTES = 512 * 1024
MAX_SIGNATURE_SIDE = 4096
MIN_INK_PIXELS = 30
"""Fewer dark pixels than this is an empty pad (a tap, a speck), not a signature."""

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O or U, so a code read aloud or off paper is unambiguous."""
CODE_LENGTH = 10

_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s*\}\}")
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
_CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

SERVER_KEYS = ("case_number", "office")
"""Terms the server fills from the case (never from a client's edit)."""


class AgreementError(CaseError):
    """An agreement operation refused; ``code`` says which rule, ``field`` which term."""

    code = "agreement_error"

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


# -- text ----------------------------------------------------------------------------------


def canonical_text(text: str) -> str:
    """The exact text signatures bind to: NFC, ``\\n`` line ends, no trailing spaces on a line,
    no blank lines at the end, one final newline."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of :func:`canonical_text` in UTF-8."""
    return hashlib.sha256(canonical_text(text).encode("utf-8")).hexdigest()


def _sha256(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


# -- terms ---------------------------------------------------------------------------------


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def default_terms(case: Case, parties: list[Party], *, office: str = "") -> dict[str, Any]:
    """Terms pre-filled from the case: the parties' details, the complaint as the facts, the
    amount in dispute; the mediator completes the rest in the room."""
    consumer = next((p for p in parties if p.role == "consumer"), None)
    business = next((p for p in parties if p.role == "business"), None)
    facts = case.title.strip()
    if case.claim.strip():
        facts += f"。消费者诉求：{case.claim.strip()}"
    return {
        "case_number": case.number,
        "office": office,
        "consumer": {
            "name": consumer.name if consumer else "",
            "id_number": (consumer.id_number or "") if consumer else "",
            "phone": (consumer.phone or "") if consumer else "",
            "address": "",
        },
        "business": {
            "name": business.name if business else "",
            "credit_code": (business.credit_code or "") if business else "",
            "contact_person": (business.contact_person or "") if business else "",
            "address": "",
        },
        "facts": facts,
        "remedy": [],
        "amount": _money(case.amount_in_dispute) or "0.00",
        "method": "",
        "due_on": "",
        "breach": "商家未按本协议约定的期限履行的，消费者可以向市场监督管理部门反映，"
        "或者依法向人民法院提起诉讼。",
        "other": "",
    }


_PARTY_FIELDS: dict[str, dict[str, tuple[int, bool]]] = {
    # field → (max length, required)
    "consumer": {"name": (120, True), "id_number": (32, False), "phone": (32, False),
                 "address": (200, False)},
    "business": {"name": (120, True), "credit_code": (32, False),
                 "contact_person": (64, False), "address": (200, False)},
}  # fmt: skip

_TEXT_FIELDS: dict[str, tuple[int, bool, bool]] = {
    # field → (max length, required, multi-line)
    "facts": (5000, True, True),
    "method": (200, True, False),
    "breach": (2000, True, True),
    "other": (5000, False, True),
}

_LABELS = {
    "consumer": "消费者",
    "business": "商家",
    "name": "名称",
    "id_number": "身份证号",
    "phone": "联系电话",
    "address": "地址",
    "credit_code": "统一社会信用代码",
    "contact_person": "联系人",
    "facts": "争议事实",
    "remedy": "处理方式",
    "amount": "金额",
    "method": "履行方式",
    "due_on": "履行期限",
    "breach": "违约责任",
    "other": "其他约定",
}


def _invalid(field: str, message: str) -> AgreementError:
    label = ".".join(_LABELS.get(part, part) for part in field.split("."))
    return AgreementError("invalid_terms", f"{label}（{field}）：{message}", field)


def _clean(value: Any, field: str, max_length: int, required: bool, multiline: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, "must be text")
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    if multiline:
        text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    else:
        if "\n" in text:
            raise _invalid(field, "must be one line: remove the line breaks")
    text = text.strip()
    if _CONTROL.search(text) or "\t" in text:
        raise _invalid(field, "contains control or invisible characters: retype it")
    if required and not text:
        raise _invalid(field, "is required: fill it in")
    if len(text) > max_length:
        raise _invalid(field, f"is too long ({len(text)} characters, at most {max_length})")
    return text


def parse_amount(value: Any) -> Decimal:
    """A CNY amount written with at most two decimals, not negative."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _invalid("amount", 'must be written as text, e.g. "1299.00"')
    text = str(value).strip().replace(",", "").replace("，", "")
    if text.startswith("-"):
        raise _invalid("amount", "no negative amounts: write what the business pays, ≥ 0")
    if not _AMOUNT.match(text):
        raise _invalid("amount", 'must be yuan with at most two decimals, e.g. "1299.50"')
    try:
        return Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards it
        raise _invalid("amount", "is not a number") from exc


def validate_terms(terms: dict[str, Any], *, today: dt.date) -> dict[str, Any]:
    """The terms normalised (trimmed, NFC, amount as ``"0.00"``, remedies in a fixed order), or
    :class:`AgreementError` ``invalid_terms`` naming the first wrong ``field``."""
    if not isinstance(terms, dict):
        raise _invalid("terms", "must be an object")
    known = {*SERVER_KEYS, *_PARTY_FIELDS, *_TEXT_FIELDS, "remedy", "amount", "due_on"}
    unknown = sorted(set(terms) - known)
    if unknown:
        raise _invalid(
            unknown[0], f"is not a term of the agreement; known: {', '.join(sorted(known))}"
        )
    out: dict[str, Any] = {}
    for key in SERVER_KEYS:
        value = terms.get(key, "")
        out[key] = value if isinstance(value, str) else ""
    for role, fields in _PARTY_FIELDS.items():
        given = terms.get(role) or {}
        if not isinstance(given, dict):
            raise _invalid(role, "must be an object with name and details")
        extra = sorted(set(given) - set(fields))
        if extra:
            raise _invalid(f"{role}.{extra[0]}", f"unknown; known: {', '.join(fields)}")
        out[role] = {
            name: _clean(given.get(name), f"{role}.{name}", limit, required, False)
            for name, (limit, required) in fields.items()
        }
    credit = out["business"]["credit_code"].upper()
    if credit and not _CREDIT_CODE.match(credit):
        raise _invalid(
            "business.credit_code", "must be the 18-character unified social credit code"
        )
    out["business"]["credit_code"] = credit
    for name, (limit, required, multiline) in _TEXT_FIELDS.items():
        out[name] = _clean(terms.get(name), name, limit, required, multiline)
    remedy = terms.get("remedy")
    if isinstance(remedy, str):
        remedy = [remedy]
    if not isinstance(remedy, list) or not remedy:
        raise _invalid("remedy", f"choose one or more of: {', '.join(REMEDIES)}")
    wrong = [r for r in remedy if r not in REMEDIES]
    if wrong:
        raise _invalid("remedy", f"{wrong[0]!r} is not one of: {', '.join(REMEDIES)}")
    out["remedy"] = [r for r in REMEDIES if r in remedy]
    out["amount"] = str(parse_amount(terms.get("amount")))
    due = terms.get("due_on")
    if isinstance(due, dt.date) and not isinstance(due, dt.datetime):
        due_on = due
    else:
        if not isinstance(due, str) or not due.strip():
            raise _invalid("due_on", "is required: the day by which it must be performed")
        try:
            due_on = dt.date.fromisoformat(due.strip())
        except ValueError:
            raise _invalid("due_on", "must be a date like 2026-12-01") from None
    if due_on <= today:
        raise _invalid("due_on", f"must be after today ({today.isoformat()})")
    out["due_on"] = due_on.isoformat()
    return out


# -- rendering the text --------------------------------------------------------------------

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def _integer_words(number: int) -> str:
    groups: list[int] = []
    while number:
        number, group = divmod(number, 10000)
        groups.append(group)
    result = ""
    zero = False  # a zero is owed before the next non-zero digit
    for index in range(len(groups) - 1, -1, -1):
        part = ""
        for pos in (3, 2, 1, 0):
            digit = groups[index] // 10**pos % 10
            if digit == 0:
                zero = zero or bool(result or part)
                continue
            if zero:
                part += "零"
                zero = False
            part += _DIGITS[digit] + _UNITS[pos]
        if part:
            result += part + _SECTIONS[index]
    return result


def amount_in_words(amount: Decimal) -> str:
    """人民币大写: ``1234.50`` → ``壹仟贰佰叁拾肆元伍角整``, ``1000.05`` → ``壹仟元零伍分``."""
    fen_total = int((amount * 100).to_integral_value())
    yuan, rest = divmod(fen_total, 100)
    jiao, fen = divmod(rest, 10)
    words = _integer_words(yuan) + "元" if yuan else ""
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif fen and words:
        words += "零"
    if fen:
        words += _DIGITS[fen] + "分"
    if not words:
        return "零元整"
    return words if fen else words + "整"


def _date_text(iso: str) -> str:
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return "＿＿＿＿年＿＿月＿＿日"
    return f"{day.year}年{day.month}月{day.day}日"


def _clauses(terms: dict[str, Any]) -> str:
    remedy = [REMEDIES[r] for r in terms.get("remedy") or [] if r in REMEDIES]
    clauses: list[str] = []
    if remedy:
        clauses.append(f"商家同意为消费者办理{'、'.join(remedy)}。")
    else:
        clauses.append("商家同意为消费者办理＿＿＿＿。")
    try:
        amount = parse_amount(terms.get("amount", ""))
    except AgreementError:
        amount = None
    due = _date_text(str(terms.get("due_on") or ""))
    method = str(terms.get("method") or "").strip() or "＿＿＿＿"
    if amount is None:
        clauses.append(f"商家于{due}前向消费者支付人民币＿＿＿＿元，支付方式：{method}。")
    elif amount > 0:
        clauses.append(
            f"商家于{due}前向消费者支付人民币{amount:,.2f}元"
            f"（大写：{amount_in_words(amount)}），支付方式：{method}。"
        )
    else:
        clauses.append(f"本协议不涉及款项支付；商家于{due}前履行上述义务。")
    clauses.append("本协议履行完毕后，双方就本纠纷再无其他争议。")
    return "\n".join(f"{n}. {clause}" for n, clause in enumerate(clauses, start=1))


def _values(terms: dict[str, Any]) -> dict[str, str]:
    """Every placeholder's text."""
    values: dict[str, str] = {}
    for key in (*SERVER_KEYS, *_TEXT_FIELDS, "method"):
        values[key] = str(terms.get(key) or "").strip()
    for role, fields in _PARTY_FIELDS.items():
        given = terms.get(role) if isinstance(terms.get(role), dict) else {}
        assert isinstance(given, dict)
        for name in fields:
            values[f"{role}.{name}"] = str(given.get(name) or "").strip()
    try:
        amount: Decimal | None = parse_amount(terms.get("amount", ""))
    except AgreementError:
        amount = None
    values["amount"] = "" if amount is None else f"{amount:,.2f}"
    values["amount_in_words"] = "" if amount is None else amount_in_words(amount)
    values["remedy"] = "、".join(REMEDIES[r] for r in terms.get("remedy") or [] if r in REMEDIES)
    values["due_on"] = str(terms.get("due_on") or "")
    values["due_on_text"] = _date_text(values["due_on"])
    values["clauses"] = _clauses(terms)
    if not values["other"]:
        values["other"] = "无。"
    return values


PLACEHOLDERS = frozenset(
    [
        *SERVER_KEYS,
        *_TEXT_FIELDS,
        *(f"{role}.{name}" for role, fields in _PARTY_FIELDS.items() for name in fields),
        "amount",
        "amount_in_words",
        "remedy",
        "due_on",
        "due_on_text",
        "clauses",
    ]
)
"""Every name a template may use."""


def load_template(name: str, data_dir: Path | None = None) -> str:
    """The template's source: the office's own if it has one, else the shipped one."""
    if not _TEMPLATE_NAME.match(name):
        raise AgreementError(
            "unknown_template",
            f"template name {name!r} is not valid: use lowercase letters, digits, - and _",
            "template",
        )
    candidates = []
    if data_dir is not None:
        candidates.append(data_dir / "templates" / "agreement" / f"{name}.md")
    candidates.append(TEMPLATES_DIR / f"{name}.md")
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise AgreementError(
        "unknown_template",
        f"no agreement template {name!r}: put {name}.md in <data dir>/templates/agreement/, "
        "or use 'default'",
        "template",
    )


def render_text(
    terms: dict[str, Any], *, template: str = "default", data_dir: Path | None = None
) -> str:
    """The agreement's canonical text: the template with every ``{{ placeholder }}`` filled.

    A line whose placeholders are all empty is dropped; an unknown placeholder is an error
    (an office's template with a typo must not print ``{{ consumr.name }}`` on a contract).
    """
    source = load_template(template, data_dir)
    values = _values(terms)
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(source)} - PLACEHOLDERS)
    if unknown:
        raise AgreementError(
            "invalid_template",
            f"template {template!r} uses unknown placeholder {{{{ {unknown[0]} }}}}; "
            f"known: {', '.join(sorted(PLACEHOLDERS))}",
            "template",
        )
    lines: list[str] = []
    for line in source.replace("\r\n", "\n").split("\n"):
        names = [m.group(1) for m in _PLACEHOLDER.finditer(line)]
        if names and not any(values[n] for n in names):
            continue
        # One pass with a function: a value that itself contains "{{ x }}" is not expanded.
        lines.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], line))
    return canonical_text("\n".join(lines))


# -- digests for the audit chain -----------------------------------------------------------


def _utc(at: dt.datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _state_digest(agreement: Agreement) -> str:
    """What an audit event vouches for of an agreement row (everything but ``updated_at``)."""
    return _sha256(
        canonical(
            {
                "id": agreement.id,
                "case_id": agreement.case_id,
                "sitting_id": agreement.sitting_id,
                "status": agreement.status,
                "template": agreement.template,
                "version": agreement.version,
                "terms": agreement.terms,
                "text": agreement.text,
                "text_sha256": agreement.text_sha256,
                "amount": _money(agreement.amount),
                "performance_due_on": _iso(agreement.performance_due_on),
                "performed_on": _iso(agreement.performed_on),
                "verification_code": agreement.verification_code,
                "pdf_path": agreement.pdf_path,
                "pdf_sha256": agreement.pdf_sha256,
                "sealed_at": _utc(agreement.sealed_at),
            }
        )
    )


def _signature_digest(sig: Signature) -> str:
    """What the ``agreement_signed`` event vouches for (``voided_at`` is vouched for by the
    event that voided it)."""
    return _sha256(
        canonical(
            [
                sig.agreement_id,
                sig.role,
                sig.name,
                sig.participant_id,
                sig.text_sha256,
                sig.image_path,
                sig.image_sha256,
                _utc(sig.signed_at),
            ]
        )
    )


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


async def _audit(
    session: AsyncSession, agreement: Agreement, actor: str, kind: str, **payload: Any
) -> None:
    await session.flush()
    await append_audit(
        session,
        agreement.case_id,
        actor,
        kind,
        {
            "agreement_id": agreement.id,
            "version": agreement.version,
            "status": agreement.status,
            "text_sha256": agreement.text_sha256,
            "state_sha256": _state_digest(agreement),
            **payload,
        },
    )


# -- reading -------------------------------------------------------------------------------


async def current_agreement(session: AsyncSession, case_id: int) -> Agreement | None:
    """The case's latest agreement that was not abandoned (a draft or the sealed one)."""
    return (
        await session.execute(
            select(Agreement)
            .where(
                Agreement.case_id == case_id,
                Agreement.status != AgreementStatus.ABANDONED.value,
            )
            .order_by(Agreement.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def signatures(
    session: AsyncSession, agreement_id: int, *, include_voided: bool = False
) -> list[Signature]:
    """An agreement's signatures in the order given; voided ones only if asked for."""
    query = select(Signature).where(Signature.agreement_id == agreement_id)
    if not include_voided:
        query = query.where(Signature.voided_at.is_(None))
    return list((await session.execute(query.order_by(Signature.id))).scalars())


async def _locked(session: AsyncSession, agreement_id: int) -> Agreement:
    """The agreement, read again after its case's row is locked (so no one changes it under us)."""
    case_id = (
        await session.execute(select(Agreement.case_id).where(Agreement.id == agreement_id))
    ).scalar_one_or_none()
    if case_id is None:
        raise AgreementError("agreement_not_found", f"no agreement {agreement_id}")
    await lock_case(session, case_id)
    agreement = (
        await session.execute(
            select(Agreement)
            .where(Agreement.id == agreement_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return agreement


def _require_draft(agreement: Agreement) -> None:
    if agreement.status == AgreementStatus.SEALED.value:
        raise AgreementError(
            "agreement_sealed",
            f"agreement {agreement.id} is signed and sealed: it can no longer change",
        )
    if agreement.status != AgreementStatus.DRAFT.value:
        raise AgreementError(
            "no_draft",
            f"agreement {agreement.id} was abandoned: start a new draft",
        )


# -- changing ------------------------------------------------------------------------------


async def start_draft(
    session: AsyncSession,
    case_id: int,
    *,
    sitting_id: int | None,
    actor: str,
    template: str = "default",
    data_dir: Path | None = None,
) -> Agreement:
    """A new draft pre-filled from the case — or the case's existing draft, unchanged."""
    case = await lock_case(session, case_id)
    existing = await current_agreement(session, case_id)
    if existing is not None:
        if existing.status == AgreementStatus.SEALED.value:
            raise AgreementError(
                "agreement_sealed",
                f"case {case.number} already has a sealed agreement ({existing.id})",
            )
        return existing
    parties = list(
        (
            await session.execute(select(Party).where(Party.case_id == case_id).order_by(Party.id))
        ).scalars()
    )
    office = await session.get(Office, case.office_id)
    terms = default_terms(case, parties, office=office.name if office else "")
    text = render_text(terms, template=template, data_dir=data_dir)
    agreement = Agreement(
        case_id=case_id,
        sitting_id=sitting_id,
        status=AgreementStatus.DRAFT.value,
        template=template,
        version=1,
        terms=terms,
        text=text,
        text_sha256=text_sha256(text),
    )
    session.add(agreement)
    await _audit(session, agreement, actor, "agreement_drafted", template=template)
    return agreement


async def update_terms(
    session: AsyncSession,
    agreement_id: int,
    terms: dict[str, Any],
    *,
    expected_version: int,
    actor: str,
    today: dt.date,
    data_dir: Path | None = None,
) -> Agreement:
    """New terms for a draft: validated, the text rendered again, the version one higher. If the
    text changed, every signature so far is voided (the rows stay, with ``voided_at``)."""
    agreement = await _locked(session, agreement_id)
    _require_draft(agreement)
    if agreement.version != expected_version:
        raise AgreementError(
            "stale_version",
            f"the agreement is at version {agreement.version}, not {expected_version}: "
            "someone else edited it; reload and apply your change again",
        )
    clean = validate_terms(terms, today=today)
    old_terms = agreement.terms or {}
    for key in SERVER_KEYS:  # the case's number and office are not the client's to change
        clean[key] = old_terms.get(key, "")
    text = render_text(clean, template=agreement.template, data_dir=data_dir)
    voided: list[int] = []
    if text != agreement.text:
        now = utcnow()
        for sig in await signatures(session, agreement.id):
            sig.voided_at = now
            voided.append(sig.id)
    agreement.terms = clean
    agreement.text = text
    agreement.text_sha256 = text_sha256(text)
    agreement.amount = Decimal(clean["amount"])
    agreement.performance_due_on = dt.date.fromisoformat(clean["due_on"])
    agreement.version += 1
    await _audit(session, agreement, actor, "agreement_updated", voided_signatures=voided)
    return agreement


def check_signature_png(image: bytes) -> None:
    """Refuse anything but a PNG of sane size with some ink on it."""
    if not image:
        raise AgreementError("invalid_signature", "the signature image is empty: sign again")
    if len(image) > MAX_SIGNATURE_BYTES:
        raise AgreementError(
            "invalid_signature",
            f"the signature image is {len(image)} bytes, more than {MAX_SIGNATURE_BYTES}: "
            "send a smaller PNG",
        )
    if not image.startswith(PNG_MAGIC):
        raise AgreementError("invalid_signature", "the signature must be a PNG image")
    from PIL import Image, ImageChops, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image), formats=["PNG"]) as img:
            width, height = img.size
            if not (16 <= width <= MAX_SIGNATURE_SIDE and 16 <= height <= MAX_SIGNATURE_SIDE):
                raise AgreementError(
                    "invalid_signature",
                    f"the signature image is {width}×{height} pixels; it must be 16 to "
                    f"{MAX_SIGNATURE_SIDE} pixels on each side",
                )
            img.load()
            la = img.convert("LA")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise AgreementError(
            "invalid_signature", f"the signature PNG cannot be read ({exc}): sign again"
        ) from None
    light, alpha = la.split()
    dark = light.point(lambda v: 255 if v <= 160 else 0)
    opaque = alpha.point(lambda v: 255 if v >= 64 else 0)
    ink = ImageChops.multiply(dark, opaque).histogram()[255]
    if ink < MIN_INK_PIXELS:
        raise AgreementError(
            "invalid_signature", "the signature is blank: write your name on the pad, then send"
        )


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` durably: a temporary file, fsync, rename, fsync the folder."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(code: str) -> str | None:
    """A verification code as stored (``ABCDE-FGH12``), from what a person typed (lower case,
    spaces, O for 0, I or L for 1); ``None`` if it cannot be one."""
    raw = "".join(c for c in code.upper() if c not in " -\u3000")
    raw = raw.translate(str.maketrans("OIL", "011"))
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return f"{raw[:5]}-{raw[5:]}"


def _clean_name(name: str) -> str:
    text = unicodedata.normalize("NFC", name or "").strip()
    if not text:
        raise AgreementError("invalid_name", "type the signer's name", "name")
    if len(text) > 120 or _CONTROL.search(text) or "\n" in text or "\t" in text:
        raise AgreementError(
            "invalid_name", "the name must be one line of at most 120 characters", "name"
        )
    return text


async def sign(
    session: AsyncSession,
    agreement_id: int,
    *,
    role: str,
    name: str,
    participant_id: str | None,
    text_sha256: str,
    image_png: bytes,
    data_dir: Path,
    today: dt.date,
) -> Signature:
    """Sign the current text as ``role``. The parties sign first; the mediator's signature
    seals the agreement (status ``sealed``, ``sealed_at``, a verification code)."""
    if role not in ROLES:
        raise AgreementError("invalid_signature", f"role must be one of {', '.join(ROLES)}", "role")
    clean_name = _clean_name(name)
    check_signature_png(image_png)
    agreement = await _locked(session, agreement_id)
    _require_draft(agreement)
    if text_sha256 != agreement.text_sha256:
        raise AgreementError(
            "text_changed",
            "the agreement's text changed since you read it: read the new text, then sign",
        )
    try:  # the terms must be complete, and the deadline still ahead
        validate_terms(agreement.terms or {}, today=today)
    except AgreementError as exc:
        raise AgreementError(
            exc.code, f"the agreement cannot be signed yet: {exc.message}", exc.field
        ) from None
    current = await signatures(session, agreement.id)
    if any(s.role == role for s in current):
        raise AgreementError(
            "already_signed", f"the {ROLE_LABELS[role]} has signed this text already"
        )
    if role == "mediator":
        missing = [r for r in PARTY_ROLES if not any(s.role == r for s in current)]
        if missing:
            who = "、".join(ROLE_LABELS[r] for r in missing)
            raise AgreementError(
                "parties_must_sign_first", f"the mediator signs last: waiting for {who}"
            )
    image_sha256 = _sha256(image_png)
    relative = (
        f"{AGREEMENTS_DIR}/{agreement.case_id}/"
        f"agreement-{agreement.id}-v{agreement.version}-{role}-{image_sha256[:16]}.png"
    )
    await asyncio.to_thread(_write_atomic, data_dir / relative, image_png)
    sig = Signature(
        agreement_id=agreement.id,
        role=role,
        name=clean_name,
        participant_id=participant_id,
        text_sha256=agreement.text_sha256,
        image_path=relative,
        image_sha256=image_sha256,
        signed_at=utcnow(),
    )
    session.add(sig)
    await session.flush()
    await _audit(
        session,
        agreement,
        clean_name,
        "agreement_signed",
        signature_id=sig.id,
        role=role,
        image_sha256=image_sha256,
        signature_sha256=_signature_digest(sig),
    )
    if role == "mediator":
        agreement.status = AgreementStatus.SEALED.value
        agreement.sealed_at = utcnow()
        agreement.verification_code = await _unique_code(session)
        sealed_with = [*current, sig]
        await _audit(
            session,
            agreement,
            clean_name,
            "agreement_sealed",
            verification_code=agreement.verification_code,
            amount=_money(agreement.amount),
            performance_due_on=_iso(agreement.performance_due_on),
            signatures=[
                {"signature_id": s.id, "role": s.role, "image_sha256": s.image_sha256}
                for s in sealed_with
            ],
        )
    return sig


async def _unique_code(session: AsyncSession) -> str:
    for _ in range(20):
        code = _new_code()
        taken = (
            await session.execute(select(Agreement.id).where(Agreement.verification_code == code))
        ).first()
        if taken is None:
            return code
    raise AgreementError("internal", "could not draw an unused verification code")  # 32^10


async def find_by_code(session: AsyncSession, code: str) -> Agreement | None:
    """The sealed agreement of a verification code as a person typed it."""
    normalized = normalize_code(code)
    if normalized is None:
        return None
    return (
        await session.execute(
            select(Agreement).where(
                Agreement.verification_code == normalized,
                Agreement.status == AgreementStatus.SEALED.value,
            )
        )
    ).scalar_one_or_none()


async def render_pdf(
    session: AsyncSession,
    agreement_id: int,
    *,
    data_dir: Path,
    place: str,
    verify_url: str = "/verify",
    timezone: str = "Asia/Shanghai",
) -> Agreement:
    """Write the sealed agreement's PDF (once: later calls return it as it is). ``place`` is
    printed as where it was signed, ``verify_url`` as where to check the code."""
    from cases import agreement_pdf

    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        raise AgreementError("agreement_not_found", f"no agreement {agreement_id}")
    if agreement.status != AgreementStatus.SEALED.value:
        raise AgreementError(
            "not_sealed",
            f"agreement {agreement_id} is not sealed yet: every party and then the mediator "
            "must sign before its PDF is made",
        )
    if await _pdf_in_place(agreement, data_dir):
        return agreement
    case = await session.get(Case, agreement.case_id)
    assert case is not None
    sigs = await signatures(session, agreement.id)
    images = {s.id: await asyncio.to_thread((data_dir / s.image_path).read_bytes) for s in sigs}
    for s in sigs:
        if _sha256(images[s.id]) != s.image_sha256:
            raise AgreementError(
                "signature_file_changed",
                f"the image file of the {ROLE_LABELS.get(s.role, s.role)}'s signature does not "
                "match its hash on record; the PDF is not made (run `mediation-room verify`)",
            )
    # Rendering takes a second; the case row is locked only afterwards, to record the result.
    pdf = await agreement_pdf.render_agreement_pdf(
        agreement,
        sigs,
        images,
        case_number=case.number,
        place=place,
        verify_url=verify_url,
        timezone=timezone,
    )
    agreement = await _locked(session, agreement_id)
    if await _pdf_in_place(agreement, data_dir):
        return agreement  # someone else made it meanwhile
    relative = f"{AGREEMENTS_DIR}/{agreement.case_id}/agreement-{agreement.id}.pdf"
    await asyncio.to_thread(_write_atomic, data_dir / relative, pdf)
    agreement.pdf_path = relative
    agreement.pdf_sha256 = _sha256(pdf)
    await _audit(
        session,
        agreement,
        "system",
        "agreement_pdf",
        pdf_sha256=agreement.pdf_sha256,
        pdf_size=len(pdf),
        place=place,
    )
    return agreement


async def _pdf_in_place(agreement: Agreement, data_dir: Path) -> bool:
    """Whether the agreement's PDF is made and its file is as recorded."""
    if agreement.pdf_path is None or agreement.pdf_sha256 is None:
        return False
    path = data_dir / agreement.pdf_path
    data = await asyncio.to_thread(lambda: path.read_bytes() if path.is_file() else None)
    return data is not None and _sha256(data) == agreement.pdf_sha256


async def abandon(
    session: AsyncSession, agreement_id: int, *, actor: str, reason: str
) -> Agreement:
    """Drop a draft (the sitting ended without settling); its rows stay for the record."""
    agreement = await _locked(session, agreement_id)
    _require_draft(agreement)
    agreement.status = AgreementStatus.ABANDONED.value
    await _audit(session, agreement, actor, "agreement_abandoned", reason=reason.strip()[:500])
    return agreement


async def mark_performed(
    session: AsyncSession, agreement_id: int, *, performed_on: dt.date, actor: str, today: dt.date
) -> Agreement:
    """Record that the sealed agreement was performed (the business paid, returned, …)."""
    agreement = await _locked(session, agreement_id)
    if agreement.status != AgreementStatus.SEALED.value:
        raise AgreementError(
            "not_sealed", "only a sealed agreement can be performed: have it signed first"
        )
    if performed_on > today:
        raise AgreementError("invalid_date", "performed_on cannot be in the future", "performed_on")
    sealed_day = agreement.sealed_at.date() if agreement.sealed_at else None
    if sealed_day is not None and performed_on < sealed_day - dt.timedelta(days=1):
        raise AgreementError(
            "invalid_date",
            f"performed_on is before the agreement was sealed ({sealed_day.isoformat()})",
            "performed_on",
        )
    agreement.performed_on = performed_on
    await _audit(
        session, agreement, actor, "agreement_performed", performed_on=performed_on.isoformat()
    )
    return agreement


# -- views ---------------------------------------------------------------------------------


def agreement_view(agreement: Agreement, sigs: list[Signature]) -> dict[str, Any]:
    """The agreement as JSON for the room and the console (voided signatures left out)."""
    return {
        "id": agreement.id,
        "case_id": agreement.case_id,
        "sitting_id": agreement.sitting_id,
        "status": agreement.status,
        "version": agreement.version,
        "template": agreement.template,
        "terms": agreement.terms or {},
        "text": agreement.text,
        "text_sha256": agreement.text_sha256,
        "amount": None if agreement.amount is None else _money(agreement.amount),
        "performance_due_on": _iso(agreement.performance_due_on),
        "performed_on": _iso(agreement.performed_on),
        "signatures": [
            {
                "role": s.role,
                "name": s.name,
                "signed_at": _utc(s.signed_at),
            }
            for s in sigs
            if s.voided_at is None
        ],
        "sealed_at": _utc(agreement.sealed_at),
        "verification_code": agreement.verification_code,
        "pdf_available": agreement.pdf_path is not None,
        "pdf_sha256": agreement.pdf_sha256,
    }


def mask_name(name: str) -> str:
    """``李小明`` → ``李**``: the first character only, as on the public check page."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * min(max(len(name) - 1, 2), 8)


# -- verification (called by cases.repository.verify_case) ----------------------------------


async def agreement_problems(
    session: AsyncSession, case_id: int, events: Iterable[AuditEvent]
) -> list[ChainProblem]:
    """What is wrong with a case's agreements and signatures against its audit events."""
    problems: list[ChainProblem] = []
    rows = {
        a.id: a
        for a in (
            await session.execute(select(Agreement).where(Agreement.case_id == case_id))
        ).scalars()
    }
    sigs = {
        s.id: s
        for s in (
            await session.execute(
                select(Signature).where(Signature.agreement_id.in_(list(rows) or [-1]))
            )
        ).scalars()
    }
    last_state: dict[int, AuditEvent] = {}
    described_sigs: set[int] = set()
    voided_by_event: set[int] = set()
    sealed: dict[int, AuditEvent] = {}
    for ev in events:
        if not ev.kind.startswith("agreement_"):
            continue
        agreement_id = int(ev.payload["agreement_id"])
        last_state[agreement_id] = ev
        voided_by_event.update(int(i) for i in ev.payload.get("voided_signatures", []))
        if ev.kind == "agreement_sealed":
            sealed[agreement_id] = ev
        if ev.kind == "agreement_signed":
            sig_id = int(ev.payload["signature_id"])
            described_sigs.add(sig_id)
            sig = sigs.get(sig_id)
            if sig is None:
                problems.append(ChainProblem(ev.seq, f"signature {sig_id} is missing"))
            elif (
                sig.agreement_id != agreement_id
                or _signature_digest(sig) != ev.payload["signature_sha256"]
            ):
                problems.append(ChainProblem(ev.seq, f"signature {sig_id} was edited"))
    for agreement_id, ev in sorted(last_state.items()):
        agreement = rows.get(agreement_id)
        if agreement is None:
            problems.append(ChainProblem(ev.seq, f"agreement {agreement_id} is missing"))
            continue
        if text_sha256(agreement.text) != agreement.text_sha256:
            problems.append(
                ChainProblem(ev.seq, f"agreement {agreement_id}'s text does not match its hash")
            )
        if _state_digest(agreement) != ev.payload["state_sha256"]:
            what = "sealed agreement" if agreement_id in sealed else "agreement"
            problems.append(ChainProblem(ev.seq, f"{what} {agreement_id} was edited"))
        seal = sealed.get(agreement_id)
        if seal is not None:
            if agreement.text_sha256 != seal.payload["text_sha256"]:
                problems.append(
                    ChainProblem(seal.seq, f"sealed agreement {agreement_id}'s text was changed")
                )
            for entry in seal.payload.get("signatures", []):
                sig = sigs.get(int(entry["signature_id"]))
                if sig is None or sig.image_sha256 != entry["image_sha256"]:
                    problems.append(
                        ChainProblem(
                            seal.seq,
                            f"a signature sealed in agreement {agreement_id} "
                            f"({entry['role']}) is missing or changed",
                        )
                    )
    for agreement_id in sorted(set(rows) - set(last_state)):
        problems.append(ChainProblem(0, f"agreement {agreement_id} is not in the audit chain"))
    for sig_id, sig in sorted(sigs.items()):
        if sig_id not in described_sigs:
            problems.append(ChainProblem(0, f"signature {sig_id} is not in the audit chain"))
        elif (sig.voided_at is not None) != (sig_id in voided_by_event):
            state = "voided" if sig.voided_at is not None else "valid"
            problems.append(
                ChainProblem(0, f"signature {sig_id} is marked {state} against the record")
            )
    return problems
