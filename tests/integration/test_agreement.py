"""The settlement agreement on both databases: drafting, editing, signing, sealing, the audit
chain's view of it, and every refusal (with nothing changed)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import agreement as ag
from cases import db
from cases import repository as repo
from cases.models import Agreement, AuditEvent, PartyRole, Signature

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 11, 3)


def signature_png(
    text_seed: int = 1, *, blank: bool = False, size: tuple[int, int] = (400, 150)
) -> bytes:
    """A pen signature as a browser's canvas gives it: dark strokes on a transparent pad."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if not blank:
        draw = ImageDraw.Draw(image)
        points = [(20 + i * 30, 75 + ((i * 37 * text_seed) % 50) - 25) for i in range(12)]
        draw.line(points, fill=(10, 10, 10, 255), width=5)
        draw.ellipse((150, 40, 200, 90), outline=(0, 0, 0, 255), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def good_terms(**changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "consumer": {"name": "李小红", "phone": "13812341234", "id_number": "", "address": ""},
        "business": {
            "name": "某某电器商行",
            "credit_code": "91110105MA01ABCD2X",
            "contact_person": "张经理",
            "address": "某市某区某路 1 号",
        },
        "facts": "消费者于 2026 年 10 月购买空调一台，安装次日即不制冷。",
        "remedy": ["return", "refund"],
        "amount": "3299.5",
        "method": "微信",
        "due_on": "2026-11-20",
        "breach": "逾期未退款的，每日另付 10 元违约金。",
        "other": "运费由商家承担。",
    }
    terms.update(changes)
    return terms


async def new_case(engine: AsyncEngine, number: str = "2026-000101") -> int:
    async with db.session_factory(engine)() as session, session.begin():
        office = await repo.create_office(session, f"某市消费者协会 {number}")
        case = await repo.create_case(
            session,
            office_id=office.id,
            number=number,
            title="空调不制冷",
            category="家用电器",
            claim="退货退款",
            amount_in_dispute="3299.00",
            received_on=dt.date(2026, 11, 2),
            actor="王调解员",
        )
        await repo.add_party(
            session, case.id, PartyRole.CONSUMER, "李小红", "王调解员", phone="13812341234"
        )
        await repo.add_party(
            session,
            case.id,
            PartyRole.BUSINESS,
            "某某电器商行",
            "王调解员",
            contact_person="张经理",
        )
        return case.id


async def draft(engine: AsyncEngine, case_id: int, data_dir: Path | None = None) -> Agreement:
    async with db.session_factory(engine)() as session, session.begin():
        return await ag.start_draft(
            session, case_id, sitting_id=None, actor="王调解员", data_dir=data_dir
        )


async def edit(engine: AsyncEngine, agreement_id: int, version: int, **changes: Any) -> Agreement:
    async with db.session_factory(engine)() as session, session.begin():
        return await ag.update_terms(
            session,
            agreement_id,
            good_terms(**changes),
            expected_version=version,
            actor="王调解员",
            today=TODAY,
        )


async def sign_as(
    engine: AsyncEngine, agreement_id: int, role: str, data_dir: Path, **kw: Any
) -> Signature:
    async with db.session_factory(engine)() as session, session.begin():
        current = await session.get(Agreement, agreement_id)
        assert current is not None
        args: dict[str, Any] = {
            "name": {"consumer": "李小红", "business": "张经理", "mediator": "王调解员"}.get(role),
            "participant_id": role,
            "text_sha256": current.text_sha256,
            "image_png": signature_png(len(role)),
            "data_dir": data_dir,
            "today": TODAY,
        }
        role = kw.pop("as_role", role)
        args.update(kw)
        return await ag.sign(session, agreement_id, role=role, **args)


async def sealed_agreement(engine: AsyncEngine, data_dir: Path, number: str) -> Agreement:
    """A case whose agreement every party and the mediator signed."""
    case_id = await new_case(engine, number)
    agreement = await draft(engine, case_id)
    agreement = await edit(engine, agreement.id, agreement.version)
    for role in ("consumer", "business", "mediator"):
        await sign_as(engine, agreement.id, role, data_dir)
    async with db.session_factory(engine)() as session:
        sealed = await session.get(Agreement, agreement.id)
        assert sealed is not None
        return sealed


async def audit_count(engine: AsyncEngine, case_id: int) -> int:
    async with db.session_factory(engine)() as session:
        return int(
            (
                await session.execute(select(func.count()).where(AuditEvent.case_id == case_id))
            ).scalar_one()
        )


async def problems(engine: AsyncEngine, case_id: int) -> list[str]:
    async with db.session_factory(engine)() as session:
        return [p.reason for p in await repo.verify_case(session, case_id)]


# -- pure functions ------------------------------------------------------------------------


def test_canonical_text_and_hash() -> None:
    decomposed = "e\u0301 ok  \r\nsecond\t\r\n\r\n\n"
    assert ag.canonical_text(decomposed) == "\u00e9 ok\nsecond\n"
    assert ag.text_sha256(decomposed) == ag.text_sha256("\u00e9 ok\nsecond")
    assert ag.text_sha256("a") != ag.text_sha256("b")
    assert re.fullmatch(r"[0-9a-f]{64}", ag.text_sha256("调解协议书"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": 12.5}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"due_on": TODAY.isoformat()}, "due_on"),
        ({"due_on": "2026-13-01"}, "due_on"),
        ({"remedy": []}, "remedy"),
        ({"remedy": ["refund", "gift"]}, "remedy"),
        ({"consumer": {"name": "  "}}, "consumer.name"),
        ({"consumer": {"name": "李", "nickname": "x"}}, "consumer.nickname"),
        ({"business": {"name": "店", "credit_code": "123"}}, "business.credit_code"),
        ({"facts": ""}, "facts"),
        ({"method": "微信\n支付宝"}, "method"),
        ({"breach": "a\x00b"}, "breach"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_validate_terms_refuses_with_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ag.AgreementError) as caught:
        ag.validate_terms(good_terms(**changes), today=TODAY)
    assert caught.value.code == "invalid_terms"
    assert caught.value.field == field
    assert field in caught.value.message


def test_validate_terms_normalises() -> None:
    clean = ag.validate_terms(
        good_terms(amount="1,000", remedy="refund", facts="  事实\r\n第二行  "), today=TODAY
    )
    assert clean["amount"] == "1000.00"
    assert clean["remedy"] == ["refund"]
    assert clean["facts"] == "事实\n第二行"
    assert clean["due_on"] == "2026-11-20"
    assert ag.validate_terms(good_terms(remedy=["refund", "return"]), today=TODAY)["remedy"] == [
        "refund",
        "return",
    ]


def test_render_text_fills_the_template() -> None:
    terms = ag.validate_terms(good_terms(), today=TODAY)
    terms["case_number"] = "2026-000101"
    text = ag.render_text(terms)
    assert text == ag.canonical_text(text)
    assert "# 调解协议书" in text
    assert "案件编号：2026-000101" in text
    assert "消费者：李小红" in text and "联系电话：13812341234" in text
    assert "身份证号" not in text  # an empty optional detail leaves its line out
    assert "统一社会信用代码：91110105MA01ABCD2X" in text
    assert "1. 商家同意为消费者办理退款、退货。" in text
    assert "人民币3,299.50元（大写：叁仟贰佰玖拾玖元伍角整）" in text
    assert "2026年11月20日" in text
    assert "双方自愿达成" in text and "本协议经双方签字后生效" in text
    assert "运费由商家承担。" in text
    assert "{{" not in text


def test_amount_in_words() -> None:
    assert ag.amount_in_words(Decimal("1000.05")) == "壹仟元零伍分"
    assert ag.amount_in_words(Decimal("10000500")) == "壹仟万零伍佰元整"
    assert ag.amount_in_words(Decimal("0")) == "零元整"


def test_templates_override_unknown_and_injection(tmp_path: Path) -> None:
    terms = ag.validate_terms(good_terms(other="{{ consumer.phone }}"), today=TODAY)
    text = ag.render_text(terms)
    assert "{{ consumer.phone }}" in text  # a value is never expanded again
    office = tmp_path / "templates" / "agreement"
    office.mkdir(parents=True)
    (office / "short.md").write_text("# 和解协议\n{{ consumer.name }} 与 {{ business.name }}\n")
    assert ag.render_text(terms, template="short", data_dir=tmp_path) == (
        "# 和解协议\n李小红 与 某某电器商行\n"
    )
    (office / "default.md").write_text("本局格式 {{ amount }}\n")
    assert ag.render_text(terms, data_dir=tmp_path) == "本局格式 3,299.50\n"
    (office / "typo.md").write_text("{{ consumr.name }}\n")
    with pytest.raises(ag.AgreementError) as caught:
        ag.render_text(terms, template="typo", data_dir=tmp_path)
    assert caught.value.code == "invalid_template" and "consumr.name" in caught.value.message
    for name in ("nope", "../default", "Default"):
        with pytest.raises(ag.AgreementError) as caught:
            ag.render_text(terms, template=name, data_dir=tmp_path)
        assert caught.value.code == "unknown_template"


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (b"", "empty"),
        (b"GIF89a" + b"\0" * 100, "PNG"),
        (ag.PNG_MAGIC + b"\0" * 100, "cannot be read"),
        (signature_png(blank=True), "blank"),
        (signature_png(size=(8, 8), blank=True), "pixels"),
        (ag.PNG_MAGIC + b"\0" * (ag.MAX_SIGNATURE_BYTES + 1), "bytes"),
    ],
)
def test_signature_png_refusals(image: bytes, words: str) -> None:
    with pytest.raises(ag.AgreementError) as caught:
        ag.check_signature_png(image)
    assert caught.value.code == "invalid_signature"
    assert words in caught.value.message
    ag.check_signature_png(signature_png())  # a real signature passes


def test_verification_codes() -> None:
    code = ag._new_code()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", code)
    assert ag.normalize_code(code.lower().replace("-", " ")) == code
    assert ag.normalize_code("0o1il-abcde") == "00111-ABCDE"
    assert ag.normalize_code("short") is None
    assert ag.normalize_code("UUUUU-UUUUU") is None
    assert ag.mask_name("李小红") == "李**"
    assert ag.mask_name("某某电器商行") == "某*****"


# -- on the databases ----------------------------------------------------------------------


async def test_draft_edit_sign_seal(engine: AsyncEngine, tmp_path: Path) -> None:
    case_id = await new_case(engine)
    first = await draft(engine, case_id)
    assert first.status == "draft" and first.version == 1
    assert first.terms is not None
    assert first.terms["consumer"]["name"] == "李小红"
    assert first.terms["business"]["contact_person"] == "张经理"
    assert first.terms["amount"] == "3299.00"
    assert first.text_sha256 == ag.text_sha256(first.text)
    again = await draft(engine, case_id)
    assert again.id == first.id  # the existing draft, not a second one

    # A draft with the default terms cannot be signed: its method and deadline are empty.
    with pytest.raises(ag.AgreementError) as caught:
        await sign_as(engine, first.id, "consumer", tmp_path)
    assert caught.value.code == "invalid_terms" and caught.value.field == "method"
    assert "cannot be signed yet" in caught.value.message

    v2 = await edit(engine, first.id, 1)
    assert v2.version == 2 and v2.amount == Decimal("3299.50")
    assert v2.performance_due_on == dt.date(2026, 11, 20)
    consumer = await sign_as(engine, first.id, "consumer", tmp_path)
    stored = tmp_path / consumer.image_path
    assert stored.is_file() and consumer.image_path.startswith(f"agreements/{case_id}/")
    assert consumer.image_sha256 == ag._sha256(stored.read_bytes())

    with pytest.raises(ag.AgreementError) as caught:
        await sign_as(engine, first.id, "mediator", tmp_path)
    assert caught.value.code == "parties_must_sign_first" and "商家" in caught.value.message
    with pytest.raises(ag.AgreementError) as caught:
        await sign_as(engine, first.id, "consumer", tmp_path)
    assert caught.value.code == "already_signed"

    # An edit that changes the text voids the consumer's signature; the row stays.
    old_hash = v2.text_sha256
    v3 = await edit(engine, first.id, 2, amount="3000")
    assert v3.version == 3 and v3.text_sha256 != old_hash
    async with db.session_factory(engine)() as session:
        assert await ag.signatures(session, first.id) == []
        kept = await ag.signatures(session, first.id, include_voided=True)
        assert [s.id for s in kept] == [consumer.id] and kept[0].voided_at is not None
    with pytest.raises(ag.AgreementError) as caught:
        await sign_as(engine, first.id, "consumer", tmp_path, text_sha256=old_hash)
    assert caught.value.code == "text_changed"

    # An edit that leaves the text as it is keeps the signatures.
    await sign_as(engine, first.id, "consumer", tmp_path)
    v4 = await edit(engine, first.id, 3, amount="3000.00")
    assert v4.text_sha256 == v3.text_sha256 and v4.version == 4
    await sign_as(engine, first.id, "business", tmp_path)
    await sign_as(engine, first.id, "mediator", tmp_path)

    async with db.session_factory(engine)() as session:
        sealed = await ag.current_agreement(session, case_id)
        assert sealed is not None and sealed.id == first.id
        assert sealed.status == "sealed" and sealed.sealed_at is not None
        assert sealed.verification_code and ag.normalize_code(sealed.verification_code)
        sigs = await ag.signatures(session, first.id)
        view = ag.agreement_view(sealed, sigs)
        events = await repo.audit_events(session, case_id)
    assert [s["role"] for s in view["signatures"]] == ["consumer", "business", "mediator"]
    assert view["amount"] == "3000.00" and view["performance_due_on"] == "2026-11-20"
    assert view["pdf_available"] is False and view["status"] == "sealed"
    seal = [e for e in events if e.kind == "agreement_sealed"]
    assert len(seal) == 1
    assert seal[0].payload["text_sha256"] == sealed.text_sha256
    assert sorted(s["image_sha256"] for s in seal[0].payload["signatures"]) == sorted(
        s.image_sha256 for s in sigs
    )
    assert await problems(engine, case_id) == []

    # Sealed: every change is refused, and nothing is written.
    before = await audit_count(engine, case_id)
    with pytest.raises(ag.AgreementError) as caught:
        await edit(engine, first.id, sealed.version)
    assert caught.value.code == "agreement_sealed"
    with pytest.raises(ag.AgreementError) as caught:
        await sign_as(engine, first.id, "consumer", tmp_path)
    assert caught.value.code == "agreement_sealed"
    with pytest.raises(ag.AgreementError) as caught:
        await draft(engine, case_id)
    assert caught.value.code == "agreement_sealed"
    async with db.session_factory(engine)() as session, session.begin():
        with pytest.raises(ag.AgreementError) as caught:
            await ag.abandon(session, first.id, actor="王调解员", reason="改主意")
    assert caught.value.code == "agreement_sealed"
    assert await audit_count(engine, case_id) == before


async def test_refusals_change_nothing(engine: AsyncEngine, tmp_path: Path) -> None:
    case_id = await new_case(engine)
    agreement = await draft(engine, case_id)
    before = await audit_count(engine, case_id)
    with pytest.raises(ag.AgreementError) as caught:
        await edit(engine, agreement.id, 1, amount="-5")
    assert caught.value.code == "invalid_terms"
    with pytest.raises(ag.AgreementError) as caught:
        await edit(engine, agreement.id, 7)
    assert caught.value.code == "stale_version" and "version 1" in caught.value.message
    with pytest.raises(ag.AgreementError) as caught:
        await edit(engine, 999_999, 1)
    assert caught.value.code == "agreement_not_found"
    await edit(engine, agreement.id, 1)
    after_edit = await audit_count(engine, case_id)
    assert after_edit == before + 1
    for kw, code in [
        ({"image_png": signature_png(blank=True)}, "invalid_signature"),
        ({"name": "  "}, "invalid_name"),
        ({"as_role": "judge", "name": "法官"}, "invalid_signature"),
    ]:
        with pytest.raises(ag.AgreementError) as caught:
            await sign_as(engine, agreement.id, "consumer", tmp_path, **kw)
        assert caught.value.code == code
    assert await audit_count(engine, case_id) == after_edit
    assert not (tmp_path / "agreements").exists()  # a refused signature leaves no file
    async with db.session_factory(engine)() as session:
        row = await session.get(Agreement, agreement.id)
        assert row is not None and row.version == 2
        assert await ag.signatures(session, agreement.id, include_voided=True) == []


async def test_concurrent_edits_one_wins(engine: AsyncEngine) -> None:
    case_id = await new_case(engine)
    agreement = await draft(engine, case_id)
    results = await asyncio.gather(
        edit(engine, agreement.id, 1, amount="100"),
        edit(engine, agreement.id, 1, amount="200"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], ag.AgreementError) and errors[0].code == "stale_version"
    assert await problems(engine, case_id) == []


async def test_abandon_then_new_draft(engine: AsyncEngine) -> None:
    case_id = await new_case(engine)
    first = await draft(engine, case_id)
    async with db.session_factory(engine)() as session, session.begin():
        dropped = await ag.abandon(session, first.id, actor="王调解员", reason="调解不成")
    assert dropped.status == "abandoned"
    async with db.session_factory(engine)() as session:
        assert await ag.current_agreement(session, case_id) is None
    with pytest.raises(ag.AgreementError) as caught:
        await edit(engine, first.id, 1)
    assert caught.value.code == "no_draft"
    second = await draft(engine, case_id)
    assert second.id != first.id and second.status == "draft"
    assert await problems(engine, case_id) == []


async def test_verify_case_sees_tampering(engine: AsyncEngine, tmp_path: Path) -> None:
    sealed = await sealed_agreement(engine, tmp_path, "2026-000201")
    case_id = sealed.case_id
    assert await problems(engine, case_id) == []
    factory = db.session_factory(engine)

    async with factory() as session, session.begin():
        await session.execute(
            update(Agreement).where(Agreement.id == sealed.id).values(amount=Decimal("9999.00"))
        )
    found = await problems(engine, case_id)
    assert any(f"sealed agreement {sealed.id} was edited" in p for p in found), found

    async with factory() as session, session.begin():
        await session.execute(
            update(Agreement)
            .where(Agreement.id == sealed.id)
            .values(amount=sealed.amount, text=sealed.text.replace("3,299.50", "329.50"))
        )
    found = await problems(engine, case_id)
    assert any("text does not match its hash" in p for p in found), found

    async with factory() as session, session.begin():
        await session.execute(
            update(Agreement).where(Agreement.id == sealed.id).values(text=sealed.text)
        )
    assert await problems(engine, case_id) == []
    async with factory() as session, session.begin():
        await session.execute(
            update(Signature)
            .where(Signature.agreement_id == sealed.id, Signature.role == "business")
            .values(name="别人")
        )
    found = await problems(engine, case_id)
    assert any(re.search(r"signature \d+ was edited", p) for p in found), found

    async with factory() as session, session.begin():
        await session.execute(
            delete(Signature).where(
                Signature.agreement_id == sealed.id, Signature.role == "consumer"
            )
        )
    found = await problems(engine, case_id)
    assert any(re.search(r"signature \d+ is missing", p) for p in found), found
    assert any("(consumer) is missing or changed" in p for p in found), found
