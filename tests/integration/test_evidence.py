"""Evidence over HTTP through the real app, on both databases: upload, list, download, refusals,
and the case record's check of what was stored."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, select, update

from cases import db
from cases import repository as repo
from cases.evidence import MAX_EVIDENCE_BYTES
from cases.invitations import Invitation as Claims
from cases.invitations import issue_token
from cases.models import Evidence, TranscriptEntry
from server.app import create_app
from server.config import Settings
from server.keys import DATABASE
from tests.support.database import BACKENDS, fresh_database

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"
SECRET = b"s" * 32
Client = TestClient  # type: ignore[type-arg]

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + os.urandom(6000)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(3000)
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + os.urandom(2000) + b"\n%%EOF\n"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + os.urandom(2000)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + os.urandom(4000)
JPEG_SHA = hashlib.sha256(JPEG).hexdigest()


@pytest.fixture(params=BACKENDS)
async def client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    aiohttp_client: Callable[[Any], Awaitable[Client]],
) -> AsyncIterator[Client]:
    engine = db.create_engine(await fresh_database(request.param, tmp_path))
    await db.upgrade(engine)
    async with db.session_factory(engine)() as session, session.begin():
        office = await repo.create_office(session, "甲市消协")
        await repo.create_mediator(session, office, "wang", "王调解员", PASSWORD)
    settings = Settings(data_dir=tmp_path, secret=SECRET, ice_hosts=("127.0.0.1",))
    yield await aiohttp_client(create_app(settings, engine))


def browser_form(data: bytes, filename: str, content_type: str) -> tuple[bytes, str]:
    """A form with one file as a browser sends it: the name in UTF-8 with only '"', CR and LF
    escaped (HTML's multipart/form-data encoding algorithm)."""
    boundary = "----WebKitFormBoundary" + os.urandom(8).hex()
    name = filename.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Sitting:
    """A case with both parties and one open sitting, as a mediator sets it up in the console."""

    def __init__(self, client: Client, number: str, issued: dict[str, Any]) -> None:
        self.client = client
        self.number = number
        self.room_id: str = issued["room_id"]
        self.case_id = int(self.room_id.split("-")[1])
        self.tokens = {
            i["role"]: parse_qs(urlparse(i["link"]).query)["t"][0] for i in issued["invitations"]
        }
        self.invitation_ids = {i["role"]: i["id"] for i in issued["invitations"]}
        self.sockets: list[socketio.AsyncClient] = []
        self.events: dict[str, list[tuple[str, Any]]] = {}

    @property
    def url(self) -> str:
        return f"/api/rooms/{self.room_id}/evidence"

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def join(self, role: str) -> socketio.AsyncClient:
        """Connect and join over Socket.IO, without media (the offer is left unanswered)."""
        sio = socketio.AsyncClient(reconnection=False)
        events = self.events.setdefault(role, [])
        for name in ("evidence_added", "room_view", "error"):
            sio.on(name, lambda data, name=name: events.append((name, data)))
        await sio.connect(
            str(self.client.make_url("/")),
            auth={"token": self.tokens[role], "room_id": self.room_id},
            transports=["websocket"],
        )
        self.sockets.append(sio)
        ack = await sio.call("join", {"audio": False, "video": False}, timeout=20)
        assert ack["ok"] is True, ack
        return sio

    async def enter(self, party: str, mediator: socketio.AsyncClient) -> socketio.AsyncClient:
        """A party joins, is admitted by the mediator and accepts the consent notice."""
        sio = await self.join(party)
        ack = await mediator.call("admit", {"participant_id": party}, timeout=10)
        assert ack["ok"] is True, ack
        ack = await sio.call("consent", {"accept": True}, timeout=10)
        assert ack["ok"] is True, ack
        return sio

    async def upload(
        self,
        role: str | None,
        data: bytes,
        filename: str = "收据.jpg",
        content_type: str = "image/jpeg",
        headers: dict[str, str] | None = None,
    ) -> aiohttp.ClientResponse:
        body, form_type = browser_form(data, filename, content_type)
        auth = {} if role is None else self.auth(role)
        headers = {**auth, "Content-Type": form_type, **(headers or {})}
        return await self.client.post(self.url, data=body, headers=headers)

    async def close(self) -> None:
        for sio in self.sockets:
            await sio.disconnect()


@pytest.fixture
async def sitting(client: Client) -> AsyncIterator[Sitting]:
    resp = await client.post("/api/session", json={"username": "wang", "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    resp = await client.post(
        "/api/cases", json={"title": "手机屏幕碎裂", "category": "家用电器", "claim": "退货"}
    )
    assert resp.status == 201, await resp.text()
    number = (await resp.json())["number"]
    for role, name in (("consumer", "李女士"), ("business", "某手机店")):
        resp = await client.post(f"/api/cases/{number}/parties", json={"role": role, "name": name})
        assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/cases/{number}/invitations", json={})
    assert resp.status == 201, await resp.text()
    room = Sitting(client, number, await resp.json())
    try:
        yield room
    finally:
        await room.close()


async def error(resp: aiohttp.ClientResponse, status: int, code: str) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    assert set(body) == {"code", "message", "event"}, body
    assert body["code"] == code, body
    return body


async def rows(client: Client) -> list[Evidence]:
    async with db.session_factory(client.app[DATABASE])() as session:
        return list((await session.execute(select(Evidence).order_by(Evidence.id))).scalars())


def stored_files(data_dir: Path) -> list[Path]:
    """Every file under the evidence folder, temporary ones included."""
    root = data_dir / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


# -- the mediator puts files on the record -------------------------------------------------


async def test_uploads_are_stored_by_hash_on_the_record(
    client: Client, sitting: Sitting, tmp_path: Path
) -> None:
    await sitting.join("mediator")
    uploaded = []
    for data, filename, declared in (
        (JPEG, "收据.jpg", "image/jpeg"),
        (PNG, "聊天截图.png", "application/octet-stream"),  # the browser's type is not trusted
        (PDF, "购买合同.pdf", "application/pdf"),
        (HEIC, "IMG_0001.HEIC", "image/heic"),
    ):
        resp = await sitting.upload("mediator", data, filename, declared)
        body = await resp.json()
        assert resp.status == 201, body
        evidence = body["evidence"]
        digest = hashlib.sha256(data).hexdigest()
        assert evidence["sha256"] == digest
        assert evidence["size"] == len(data)
        assert evidence["filename"] == filename
        assert (evidence["submitted_by"], evidence["role"]) == ("王调解员", "mediator")
        assert evidence["url"] == f"{sitting.url}/{evidence['id']}"
        uploaded.append((evidence, data))
    types = [e["content_type"] for e, _ in uploaded]
    assert types == ["image/jpeg", "image/png", "application/pdf", "image/heic"]

    # On disk under its own hash, nothing else (no temporary file left behind).
    files = stored_files(tmp_path)
    expected = sorted(
        tmp_path / "evidence" / f"case-{sitting.case_id}" / f"{e['sha256']}{ext}"
        for (e, _), ext in zip(uploaded, (".jpg", ".png", ".pdf", ".heic"), strict=True)
    )
    assert files == expected
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem

    # The mediator's page heard of each one.
    assert await until(lambda: _added(sitting) == 4)
    added = [d["evidence"] for name, d in sitting.events["mediator"] if name == "evidence_added"]
    assert [a["id"] for a in added] == [e["id"] for e, _ in uploaded]

    # The transcript says who submitted what, and the record's check holds.
    async with db.session_factory(client.app[DATABASE])() as session:
        entries = (
            (
                await session.execute(
                    select(TranscriptEntry).where(TranscriptEntry.event == "evidence_uploaded")
                )
            )
            .scalars()
            .all()
        )
        assert [e.data for e in entries] == [
            {"evidence_id": e["id"], "sha256": e["sha256"]} for e, _ in uploaded
        ]
        first = entries[0]
        assert first.text == f"王调解员（调解员）提交证据：收据.jpg（SHA-256 {JPEG_SHA[:12]}…）"
        assert (first.kind, first.author_role, first.participant_id) == (
            "system",
            "mediator",
            "mediator",
        )
        assert await repo.verify_case(session, sitting.case_id) == []
    record = await (await client.get(f"/api/cases/{sitting.number}/record")).json()
    assert record["audit_intact"] is True

    # Listed for the mediator, in the order submitted.
    resp = await client.get(sitting.url, headers=sitting.auth("mediator"))
    assert resp.status == 200
    assert (await resp.json())["evidence"] == [e for e, _ in uploaded]


def _added(sitting: Sitting) -> int:
    return sum(1 for name, _ in sitting.events["mediator"] if name == "evidence_added")


async def test_files_are_served_as_what_they_are_with_ranges(
    client: Client, sitting: Sitting
) -> None:
    await sitting.join("mediator")
    jpeg = (await (await sitting.upload("mediator", JPEG, '照片 "1".jpg')).json())["evidence"]
    pdf = (await (await sitting.upload("mediator", PDF, "合同.pdf", "image/jpeg")).json())[
        "evidence"
    ]

    resp = await client.get(jpeg["url"], headers=sitting.auth("mediator"))
    assert resp.status == 200
    assert await resp.read() == JPEG
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert resp.headers["Content-Disposition"] == (
        "inline; filename=\"__ _1_.jpg\"; filename*=UTF-8''%E7%85%A7%E7%89%87%20%221%22.jpg"
    )
    assert "Content-Security-Policy" not in resp.headers

    resp = await client.get(
        jpeg["url"], headers={**sitting.auth("mediator"), "Range": "bytes=10-19"}
    )
    assert resp.status == 206
    assert await resp.read() == JPEG[10:20]
    assert resp.headers["Content-Range"] == f"bytes 10-19/{len(JPEG)}"
    resp = await client.get(jpeg["url"], headers={**sitting.auth("mediator"), "Range": "bytes=-5"})
    assert (resp.status, await resp.read()) == (206, JPEG[-5:])

    resp = await client.get(pdf["url"], headers=sitting.auth("mediator"))
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/pdf"  # its content, not its label
    assert resp.headers["Content-Security-Policy"] == "sandbox"
    assert await resp.read() == PDF

    for missing in ("999999", "abc", "0"):
        resp = await client.get(f"{sitting.url}/{missing}", headers=sitting.auth("mediator"))
        await error(resp, 404, "evidence_not_found")

    # The console lists and serves the same files with the mediator's session.
    listed = await (await client.get(f"/api/cases/{sitting.number}/evidence")).json()
    assert [e["sha256"] for e in listed["evidence"]] == [jpeg["sha256"], pdf["sha256"]]
    console_url = listed["evidence"][1]["url"]
    assert console_url == f"/api/cases/{sitting.number}/evidence/{pdf['id']}/file"
    resp = await client.get(console_url, headers={"Range": "bytes=0-4"})
    assert (resp.status, await resp.read()) == (206, b"%PDF-")
    assert resp.headers["Content-Security-Policy"] == "sandbox"
    await error(
        await client.get(f"/api/cases/{sitting.number}/evidence/999999/file"),
        404,
        "evidence_not_found",
    )
    await client.delete("/api/session")
    await error(await client.get(console_url), 401, "not_logged_in")


async def test_the_record_check_notices_edited_deleted_and_smuggled_evidence(
    client: Client, sitting: Sitting
) -> None:
    await sitting.join("mediator")
    first = (await (await sitting.upload("mediator", JPEG)).json())["evidence"]
    second = (await (await sitting.upload("mediator", PNG, "b.png")).json())["evidence"]
    sessions = db.session_factory(client.app[DATABASE])

    async def problems() -> list[str]:
        async with sessions() as session:
            return [p.reason for p in await repo.verify_case(session, sitting.case_id)]

    assert await problems() == []
    async with sessions() as session, session.begin():
        await session.execute(
            update(Evidence).where(Evidence.id == first["id"]).values(sha256="0" * 64)
        )
    assert await problems() == [f"evidence {first['id']} was edited"]
    record = await (await client.get(f"/api/cases/{sitting.number}/record")).json()
    assert record["audit_intact"] is False

    async with sessions() as session, session.begin():
        await session.execute(
            update(Evidence).where(Evidence.id == first["id"]).values(sha256=first["sha256"])
        )
        await session.execute(
            update(Evidence).where(Evidence.id == second["id"]).values(size=second["size"] + 1)
        )
    assert await problems() == [f"evidence {second['id']} was edited"]

    async with sessions() as session, session.begin():
        smuggled = Evidence(
            case_id=sitting.case_id,
            submitted_by="某手机店",
            submitted_role="business",
            filename="假发票.jpg",
            content_type="image/jpeg",
            size=3,
            sha256="1" * 64,
            path="evidence/x.jpg",
        )
        session.add(smuggled)
        await session.flush()
        smuggled_id = smuggled.id
    assert await problems() == [
        f"evidence {second['id']} was edited",
        f"evidence {smuggled_id} is not in the audit chain",
    ]

    async with sessions() as session, session.begin():
        await session.execute(delete(Evidence).where(Evidence.id == second["id"]))
    assert await problems() == [
        f"evidence {second['id']} is missing",
        f"evidence {smuggled_id} is not in the audit chain",
    ]


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "declared"),
    [
        pytest.param(ELF, "photo.jpg", "image/jpeg", id="executable-named-jpg"),
        pytest.param(b"MZ\x90\x00" + os.urandom(500), "收据.jpg", "image/jpeg", id="windows-exe"),
        pytest.param(b"<!DOCTYPE html><script>alert(1)</script>", "a.pdf", "text/html", id="html"),
        pytest.param(
            b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            "a.svg",
            "image/svg+xml",
            id="svg",
        ),
        pytest.param(b"PK\x03\x04" + os.urandom(200), "scan.pdf", "application/pdf", id="zip"),
        pytest.param(b"", "empty.jpg", "image/jpeg", id="empty"),
        pytest.param(b"\xff\xd8", "short.jpg", "image/jpeg", id="two-bytes"),
    ],
)
async def test_files_that_are_not_what_is_accepted_leave_no_trace(
    client: Client, sitting: Sitting, tmp_path: Path, data: bytes, filename: str, declared: str
) -> None:
    await sitting.join("mediator")
    resp = await sitting.upload("mediator", data, filename, declared)
    body = await error(resp, 415, "evidence_type_unsupported")
    assert "JPEG" in body["message"] and "PDF" in body["message"]
    assert await rows(client) == []
    assert stored_files(tmp_path) == []
    async with db.session_factory(client.app[DATABASE])() as session:
        assert await repo.verify_case(session, sitting.case_id) == []


async def test_files_over_20_mib_are_refused_and_leave_no_trace(
    client: Client, sitting: Sitting, tmp_path: Path
) -> None:
    await sitting.join("mediator")
    at_limit = JPEG + b"\x00" * (MAX_EVIDENCE_BYTES - len(JPEG))
    resp = await sitting.upload("mediator", at_limit)
    assert resp.status == 201, await resp.text()
    kept = stored_files(tmp_path)
    assert len(kept) == 1

    # One byte more: counted while it streams (the Content-Length leaves room for the framing).
    resp = await sitting.upload("mediator", at_limit + b"\x00")
    await error(resp, 413, "evidence_too_large")
    # Far more: refused from its Content-Length before it is read.
    resp = await sitting.upload("mediator", at_limit + b"\x00" * (1024 * 1024))
    await error(resp, 413, "evidence_too_large")

    # Sent in chunks, with no length announced.
    async def chunks() -> AsyncIterator[bytes]:
        yield at_limit
        yield b"\x00" * 1024

    form = aiohttp.FormData()
    form.add_field("file", chunks(), filename="big.jpg", content_type="image/jpeg")
    resp = await client.post(sitting.url, data=form, headers=sitting.auth("mediator"))
    await error(resp, 413, "evidence_too_large")

    assert len(await rows(client)) == 1
    assert stored_files(tmp_path) == kept
    # The JSON API keeps its own 1 MiB limit.
    resp = await client.post(
        f"/api/cases/{sitting.number}/notes",
        data=b'{"text": "' + b"x" * (1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 413


async def test_uploads_that_are_not_one_file_field_are_refused(
    client: Client, sitting: Sitting, tmp_path: Path
) -> None:
    await sitting.join("mediator")
    auth = sitting.auth("mediator")
    resp = await client.post(sitting.url, json={"file": "x"}, headers=auth)
    await error(resp, 400, "invalid_upload")

    form = aiohttp.FormData()
    form.add_field("photo", JPEG, filename="a.jpg", content_type="image/jpeg")
    await error(await client.post(sitting.url, data=form, headers=auth), 400, "invalid_upload")

    form = aiohttp.FormData()
    form.add_field("file", JPEG, filename="a.jpg", content_type="image/jpeg")
    form.add_field("file", PNG, filename="b.png", content_type="image/png")
    await error(await client.post(sitting.url, data=form, headers=auth), 400, "invalid_upload")

    resp = await client.post(
        sitting.url,
        data=b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\n\xff\xd8\xff',
        headers={**auth, "Content-Type": "multipart/form-data; boundary=x"},
    )
    await error(resp, 400, "invalid_upload")  # cut off: no closing boundary
    assert await rows(client) == []
    assert stored_files(tmp_path) == []


async def test_every_route_wants_a_valid_link_of_this_room(
    client: Client, sitting: Sitting
) -> None:
    await sitting.join("mediator")
    evidence = (await (await sitting.upload("mediator", JPEG)).json())["evidence"]
    routes = [("post", sitting.url), ("get", sitting.url), ("get", evidence["url"])]

    async def refused(headers: dict[str, str], status: int, code: str) -> None:
        for method, url in routes:
            if method == "post":
                resp = await sitting.upload(None, JPEG, headers=headers)
            else:
                resp = await client.request(method, url, headers=headers)
            await error(resp, status, code)

    await refused({}, 401, "token_missing")
    await refused({"Authorization": "Basic d2FuZzp4"}, 401, "token_missing")
    await refused({"Authorization": "Bearer not-a-token"}, 401, "token_malformed")
    forged = sitting.tokens["mediator"][:-4] + "AAAA"
    await refused({"Authorization": f"Bearer {forged}"}, 401, "token_invalid")

    # A link of another sitting (another room) of the same case.
    resp = await client.post(f"/api/cases/{sitting.number}/invitations", json={})
    other = Sitting(client, sitting.number, await resp.json())
    await refused(other.auth("mediator"), 401, "token_foreign")

    def token(**changes: Any) -> dict[str, str]:
        claims = Claims(
            room_id=sitting.room_id,
            participant_id="mediator",
            role="mediator",
            name="王调解员",
            expires_at=int(time.time()) + 3600,
            invitation_id=sitting.invitation_ids["mediator"],
        )
        return {"Authorization": f"Bearer {issue_token(SECRET, replace(claims, **changes))}"}

    await refused(token(expires_at=int(time.time()) - 1), 401, "token_expired")
    await refused(token(invitation_id="0123456789abcdef"), 401, "token_unknown")
    # Signed for this room, but naming another sitting's invitation.
    await refused(token(invitation_id=other.invitation_ids["mediator"]), 401, "sitting_ended")

    resp = await client.post(f"/api/invitations/{sitting.invitation_ids['consumer']}/revoke")
    assert resp.status == 200
    await refused(sitting.auth("consumer"), 401, "token_revoked")

    resp = await client.get(
        "/api/rooms/case-999-999/evidence",
        headers=token(room_id="case-999-999"),
    )
    await error(resp, 404, "room_not_found")
    assert len(await rows(client)) == 1


# -- parties (these need the room's lobby, admission and show_evidence) ---------------------


async def test_a_party_in_the_lobby_cannot_submit(
    client: Client, sitting: Sitting, tmp_path: Path
) -> None:
    await sitting.join("mediator")
    await error(await sitting.upload("consumer", JPEG), 403, "not_admitted")  # not even joined
    await sitting.join("consumer")  # waits in the lobby
    await error(await sitting.upload("consumer", JPEG), 403, "not_admitted")
    assert await rows(client) == []
    assert stored_files(tmp_path) == []


async def test_a_party_sees_its_own_files_and_those_shown_to_it(
    client: Client, sitting: Sitting
) -> None:
    mediator = await sitting.join("mediator")
    await sitting.enter("consumer", mediator)
    await sitting.enter("business", mediator)

    resp = await sitting.upload("consumer", PDF, "发票.pdf", "application/pdf")
    body = await resp.json()
    assert resp.status == 201, body
    evidence = body["evidence"]
    assert (evidence["submitted_by"], evidence["role"]) == ("李女士", "consumer")
    # The mediator and the uploader hear of it; the other party does not.
    assert await until(lambda: any(n == "evidence_added" for n, _ in sitting.events["consumer"]))
    assert await until(lambda: any(n == "evidence_added" for n, _ in sitting.events["mediator"]))
    assert not any(n == "evidence_added" for n, _ in sitting.events["business"])

    consumer, business = sitting.auth("consumer"), sitting.auth("business")
    resp = await client.get(evidence["url"], headers=consumer)
    assert (resp.status, await resp.read()) == (200, PDF)
    assert (await (await client.get(sitting.url, headers=consumer)).json())["evidence"] == [
        evidence
    ]
    await error(await client.get(evidence["url"], headers=business), 404, "evidence_not_found")
    assert (await (await client.get(sitting.url, headers=business)).json())["evidence"] == []

    ack = await mediator.call("show_evidence", {"evidence_id": evidence["id"]}, timeout=10)
    assert ack["ok"] is True, ack
    resp = await client.get(evidence["url"], headers=business)
    assert (resp.status, await resp.read()) == (200, PDF)
    assert (await (await client.get(sitting.url, headers=business)).json())["evidence"] == [
        evidence
    ]
