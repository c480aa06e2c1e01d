"""The ``mediation-room`` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import signal
import sys
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases.bundle import build_bundle, verify_bundle
from cases.models import Case, Mediator, Office
from cases.pdf import PdfError
from server import retention
from server.access_log import AccessLogger
from server.app import create_app
from server.config import (
    ENV_PREFIX,
    Settings,
    load_previous_secrets,
    load_secret,
    parse_advertise,
    parse_ice_servers,
    parse_port_range,
)
from server.database import SchemaMismatch, database_url, open_database
from server.demo import DEMO_SUPERVISOR, DEMO_USER, demo_account, seed_demo
from server.health import admin_token
from server.keys import ROOMS
from server.logs import JsonAccessLogger, configure_logging
from server.loop import CHOICES as LOOPS
from server.loop import run as run_loop
from server.office import load_office_rules

ROLE_LABELS = {
    "mediator": "调解员 mediator",
    "consumer": "消费者 consumer",
    "business": "商家 business",
}


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediation-room", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(_env("PORT", "8080") or 8080))
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path(_env("DATA_DIR", "data") or "data"),
        help="where the signing key, the embedded database and recordings live",
    )
    serve.add_argument(
        "--database-url",
        default=_env("DATABASE_URL") or os.environ.get("DATABASE_URL", ""),
        help="the case record's database, e.g. postgresql://user@host/db "
        "(default: SQLite in the data directory, migrated automatically)",
    )
    serve.add_argument(
        "--public-url",
        default=_env("PUBLIC_URL", ""),
        help="base URL of printed links when behind a proxy (default http://HOST:PORT)",
    )
    serve.add_argument(
        "--ice-servers",
        default=_env("ICE_SERVERS"),
        help="STUN/TURN servers: JSON list of RTCIceServer objects or comma-separated URLs "
        "(default: none, nothing leaves the machine)",
    )
    serve.add_argument(
        "--ice-host",
        action="append",
        dest="ice_hosts",
        help="address the SFU offers ICE host candidates on (repeatable; default: all "
        "interfaces but loopback)",
    )
    serve.add_argument("--video-codec", choices=["vp8", "h264"], default=_env("VIDEO_CODEC", "vp8"))
    serve.add_argument(
        "--forwarding",
        choices=["packet", "relay"],
        default=_env("FORWARDING", "packet"),
        help="packet: forward RTP (the product); relay: decode/re-encode (benchmark baseline)",
    )
    serve.add_argument(
        "--office-config",
        type=Path,
        default=_env("OFFICE_CONFIG"),
        help="JSON: case categories, public holidays, make-up working days, deadlines",
    )
    serve.add_argument(
        "--stun-url",
        action="append",
        dest="stun_urls",
        help="STUN URL for browsers and the SFU, e.g. stun:turn.example.org:3478 (repeatable; "
        "env MEDIATION_ROOM_STUN_URLS, comma-separated)",
    )
    serve.add_argument(
        "--turn-url",
        action="append",
        dest="turn_urls",
        help="TURN URL, e.g. turn:turn.example.org:3478?transport=udp, …?transport=tcp, "
        "turns:turn.example.org:443?transport=tcp (repeatable; env MEDIATION_ROOM_TURN_URLS)",
    )
    serve.add_argument(
        "--turn-secret-file",
        type=Path,
        default=_env("TURN_SECRET_FILE"),
        help="file holding coturn's static-auth-secret (or env MEDIATION_ROOM_TURN_SECRET): "
        "each participant then gets a short-lived TURN credential",
    )
    serve.add_argument(
        "--turn-ttl",
        type=int,
        default=int(_env("TURN_TTL", "21600") or 21600),
        help="seconds a TURN credential stays valid (default 6 h)",
    )
    serve.add_argument(
        "--media-ports",
        default=_env("MEDIA_PORTS", ""),
        help="UDP port range of the SFU's media sockets, e.g. 40000-40999 (one port per "
        "participant connection; default: any)",
    )
    serve.add_argument(
        "--ice-advertise",
        action="append",
        help="address announced in the SFU's host candidates: PUBLIC, or PRIVATE=PUBLIC "
        "(1:1 NAT; repeatable; env MEDIATION_ROOM_ICE_ADVERTISE, comma-separated)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=_env("LOG_FORMAT", "text"),
        help="json: one JSON object per line with room and case ids (no personal data)",
    )
    serve.add_argument(
        "--min-free-disk-mb",
        type=int,
        default=int(_env("MIN_FREE_DISK_MB", "512") or 512),
        help="/readyz fails below this much free space for recordings (MB)",
    )
    serve.add_argument(
        "--redis-url",
        default=_env("REDIS_URL", ""),
        help="Redis of a deployment of several nodes (room directory, Socket.IO between nodes); "
        "also checked by /readyz and measured by /metrics",
    )
    serve.add_argument(
        "--node-id",
        default=_env("NODE_ID", ""),
        help="with --redis-url: this node's name in the room directory (default: host-pid-random)",
    )
    serve.add_argument(
        "--node-url",
        default=_env("NODE_URL", ""),
        help="with --redis-url: how the other nodes reach this one, e.g. http://10.0.0.5:8080 "
        "(default: http://HOST:PORT; required when --host is 0.0.0.0)",
    )
    serve.add_argument("--demo", action="store_true", help="create a demo case, print 3 links")
    serve.add_argument("--links-file", type=Path, help="with --demo: also write the links as JSON")
    serve.add_argument(
        "--demo-cases",
        type=int,
        default=30,
        metavar="N",
        help="with --demo: seed N example cases with outcomes once, for the dashboard (0: none)",
    )
    serve.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"))
    serve.add_argument(
        "--event-loop",
        choices=LOOPS,
        default=_env("EVENT_LOOP", "uvloop"),
        help="uvloop (default, faster per media packet) or asyncio's own loop",
    )

    def database_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--database-url", default=serve.get_default("database_url"))
        sub.add_argument("--data-dir", type=Path, default=serve.get_default("data_dir"))
        sub.add_argument("--log-level", default=_env("LOG_LEVEL", "WARNING"))

    database = commands.add_parser("db", help="the case record's database")
    db_commands = database.add_subparsers(dest="db_command", required=True)
    database_options(db_commands.add_parser("upgrade", help="migrate the schema to this version"))

    verify = commands.add_parser(
        "verify",
        help="check a case's record against its audit chain, or a case bundle (a .zip) on its "
        "own: every file against its manifest and the audit chain (exit 1 if tampered)",
    )
    verify.add_argument(
        "case_number", help="the case number, e.g. 2026-000123, or a bundle's file, e.g. 案件.zip"
    )
    database_options(verify)

    bundle = commands.add_parser(
        "bundle",
        help="write a case's bundle for a court or supervisor: agreement, transcript, notices, "
        "evidence, recording manifest, audit chain, satisfaction, manifest.json",
    )
    bundle.add_argument("case_number", help="the case number, e.g. 2026-000123")
    bundle.add_argument("out", type=Path, help="the zip file to write, e.g. 2026-000123.zip")
    bundle.add_argument(
        "--recordings", action="store_true", help="include the recording files themselves"
    )
    bundle.add_argument("--office-config", type=Path, default=serve.get_default("office_config"))
    database_options(bundle)

    recordings = commands.add_parser("recordings", help="recorded segments")
    recording_commands = recordings.add_subparsers(dest="recordings_command", required=True)
    purge = recording_commands.add_parser(
        "purge",
        help="delete the recordings of cases concluded longer ago than the office's "
        "recording_retention_days (the hashes and the audit chain stay)",
    )
    purge.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    purge.add_argument("--office-config", type=Path, default=serve.get_default("office_config"))
    database_options(purge)

    drain = commands.add_parser(
        "drain",
        help="tell a running node to drain (finish its rooms, open no new one) for an upgrade",
    )
    drain.add_argument(
        "--url",
        default=_env("ADMIN_URL", "http://127.0.0.1:8080"),
        help="the node's own address (default http://127.0.0.1:8080)",
    )
    drain.add_argument("--undo", action="store_true", help="take rooms again")
    drain.add_argument("--status", action="store_true", help="only show the state")
    drain.add_argument("--data-dir", type=Path, default=serve.get_default("data_dir"))
    drain.add_argument("--log-level", default=_env("LOG_LEVEL", "WARNING"))

    admin = commands.add_parser("admin", help="accounts")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_commands.add_parser(
        "create-mediator",
        help="create a mediator account (password from MEDIATION_ROOM_PASSWORD or a prompt)",
    )
    create.add_argument("--username", required=True)
    create.add_argument("--display-name", required=True)
    create.add_argument("--office", required=True, help="office name; created if new")
    create.add_argument(
        "--role",
        choices=["mediator", "supervisor"],
        default="mediator",
        help="supervisor: sees the whole office's figures (default: mediator, their own)",
    )
    database_options(create)
    return parser


def _list(values: list[str] | None, env_name: str) -> list[str]:
    """A repeatable option, or its comma-separated ``MEDIATION_ROOM_<NAME>``."""
    if values:
        return values
    return [v.strip() for v in (_env(env_name) or "").split(",") if v.strip()]


def _turn_secret(path: Path | None) -> bytes:
    secret = path.read_bytes().strip() if path is not None else None
    secret = secret or (_env("TURN_SECRET") or "").encode("utf-8")
    if secret and len(secret) < 16:
        raise ValueError("the TURN secret is too short: use at least 16 characters")
    return secret


def settings_from_args(args: argparse.Namespace) -> Settings:
    if args.redis_url and not args.node_url and args.host in ("0.0.0.0", "::", ""):
        raise ValueError(
            f"with --redis-url and --host {args.host or '(all)'} the other nodes need this "
            "node's own address: give --node-url http://ADDRESS:PORT"
        )
    env_hosts = _env("ICE_HOSTS")
    hosts = args.ice_hosts or (env_hosts.split(",") if env_hosts else None)
    return Settings(
        stun_urls=tuple(_list(args.stun_urls, "STUN_URLS")),
        turn_urls=tuple(_list(args.turn_urls, "TURN_URLS")),
        turn_secret=_turn_secret(args.turn_secret_file),
        turn_ttl=args.turn_ttl,
        media_ports=parse_port_range(args.media_ports),
        ice_advertise=parse_advertise(_list(args.ice_advertise, "ICE_ADVERTISE")),
        log_format=args.log_format,
        min_free_disk_mb=args.min_free_disk_mb,
        redis_url=args.redis_url or "",
        node_id=args.node_id or "",
        node_url=args.node_url or "",
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        secret=load_secret(args.data_dir),
        previous_secrets=load_previous_secrets(args.data_dir),
        database_url=args.database_url or "",
        public_url=args.public_url or "",
        ice_servers=parse_ice_servers(args.ice_servers),
        ice_hosts=tuple(hosts) if hosts else None,
        video_codec={"vp8": "video/VP8", "h264": "video/H264"}[args.video_codec],
        forwarding=args.forwarding,
        office_config=args.office_config,
        demo=args.demo,
        demo_cases=max(0, args.demo_cases),
        links_file=args.links_file,
    )


async def db_upgrade(args: argparse.Namespace) -> None:
    settings = Settings(data_dir=args.data_dir, database_url=args.database_url or "")
    engine = db.create_engine(database_url(settings))
    try:
        before = await db.schema_status(engine)
        if before.state is db.SchemaState.AHEAD:
            sys.exit(f"mediation-room: the schema ({before.revision}) is newer than this code")
        await db.upgrade(engine)
        after = await db.schema_status(engine)
    finally:
        await engine.dispose()
    print(f"database schema: {before.revision or 'empty'} → {after.revision}")


async def _open(args: argparse.Namespace) -> AsyncEngine:
    settings = Settings(data_dir=args.data_dir, database_url=args.database_url or "")
    try:
        return await open_database(settings)
    except SchemaMismatch as exc:
        sys.exit(f"mediation-room: {exc}")


async def verify_case(args: argparse.Namespace) -> None:
    engine = await _open(args)
    try:
        async with db.session_factory(engine)() as session:
            case = (
                await session.execute(select(Case).where(Case.number == args.case_number))
            ).scalar_one_or_none()
            if case is None:
                sys.exit(f"mediation-room: no case numbered {args.case_number!r}")
            problems = await repo.verify_case(session, case.id)
            events = len(await repo.audit_events(session, case.id))
    finally:
        await engine.dispose()
    if problems:
        print(f"case {args.case_number}: {len(problems)} problem(s) in {events} audit events")
        for problem in problems:
            where = f"event {problem.seq}" if problem.seq else "record"
            print(f"  {where}: {problem.reason}")
        sys.exit(1)
    print(f"case {args.case_number}: intact ({events} audit events)")


def verify_bundle_file(path: Path) -> None:
    """``verify BUNDLE.zip``: the report, then exit 0 only if the bundle is intact."""
    report = verify_bundle(path)
    print(
        f"bundle {path}: case {report.case_number or '?'}, made {report.generated_at or '?'} "
        f"by {report.generator or '?'}; {report.files} files, {report.events} audit events"
    )
    if report.problems:
        for problem in report.problems:
            print(f"  {problem}")
        print(f"NOT INTACT: {len(report.problems)} problem(s)")
        sys.exit(1)
    print("intact: every file matches the manifest and the audit chain")


async def make_bundle(args: argparse.Namespace) -> None:
    rules = load_office_rules(args.office_config)
    engine = await _open(args)
    try:
        async with db.session_factory(engine)() as session:
            case = (
                await session.execute(select(Case).where(Case.number == args.case_number))
            ).scalar_one_or_none()
            if case is None:
                sys.exit(f"mediation-room: no case numbered {args.case_number!r}")
            try:
                result = await build_bundle(
                    session,
                    case.id,
                    args.out,
                    data_dir=args.data_dir,
                    include_recordings=args.recordings,
                    timezone=rules.timezone,
                )
            except PdfError as exc:
                sys.exit(f"mediation-room: the transcript's PDF could not be made: {exc.message}")
    finally:
        await engine.dispose()
    files = result.manifest["files"]
    print(
        f"wrote {args.out}: case {args.case_number}, {len(files)} files, "
        f"{sum(f['size'] for f in files)} bytes"
    )
    for note in result.manifest["notes"]:
        print(f"  note: {note}")


async def purge_recordings(args: argparse.Namespace) -> None:
    rules = load_office_rules(args.office_config)
    if rules.recording_retention_days is None:
        sys.exit(
            "mediation-room: the office rules (--office-config) set no recording_retention_days: "
            "recordings are kept forever, nothing was deleted"
        )
    engine = await _open(args)
    try:
        gone = await retention.purge(engine, args.data_dir, rules, dry_run=args.dry_run)
        async with db.session_factory(engine)() as session:
            ids = {r.case_id for r in gone}
            rows = await session.execute(select(Case.id, Case.number).where(Case.id.in_(ids)))
            numbers = {case_id: number for case_id, number in rows}
    finally:
        await engine.dispose()
    verb = "would delete" if args.dry_run else "deleted"
    for recording in gone:
        print(
            f"{verb}: case {numbers.get(recording.case_id)} recording {recording.id} "
            f"{recording.path} ({recording.size} bytes, sha256 {recording.sha256})"
        )
    cases = len({r.case_id for r in gone})
    print(
        f"{verb} {len(gone)} recording file(s) of {cases} case(s) "
        f"(kept {rules.recording_retention_days} days after their case concluded)"
    )


def drain_node(args: argparse.Namespace) -> None:
    """POST/DELETE/GET ``/admin/drain`` with the admin token derived from the signing key."""
    import urllib.error
    import urllib.request

    method = "GET" if args.status else "DELETE" if args.undo else "POST"
    request = urllib.request.Request(
        args.url.rstrip("/") + "/admin/drain",
        method=method,
        headers={"Authorization": "Bearer " + admin_token(load_secret(args.data_dir))},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            state = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        sys.exit(f"mediation-room: {exc.code} {exc.read().decode(errors='replace')}")
    except urllib.error.URLError as exc:
        sys.exit(f"mediation-room: cannot reach {args.url}: {exc.reason}")
    verb = "draining" if state["draining"] else "taking rooms"
    print(f"{args.url}: {verb}, {state['rooms']} live room(s)")


def _new_password() -> str:
    from_env = os.environ.get(ENV_PREFIX + "PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        sys.exit("mediation-room: set MEDIATION_ROOM_PASSWORD or run in a terminal to be asked")
    first = getpass.getpass("password (8 characters or more): ")
    if getpass.getpass("again: ") != first:
        sys.exit("mediation-room: the two passwords differ; nothing was created")
    return first


async def create_mediator(args: argparse.Namespace) -> None:
    password = _new_password()
    engine = await _open(args)
    try:
        async with db.session_factory(engine)() as session, session.begin():
            if (
                await session.execute(select(Mediator).where(Mediator.username == args.username))
            ).first():
                sys.exit(f"mediation-room: the username {args.username!r} is taken")
            office = (
                await session.execute(select(Office).where(Office.name == args.office))
            ).scalar_one_or_none() or await repo.create_office(session, args.office)
            account = await repo.create_mediator(
                session, office, args.username, args.display_name, password
            )
            account.role = args.role
    finally:
        await engine.dispose()
    print(f"created {args.role} {args.username!r} in {args.office}")


async def serve(settings: Settings) -> None:
    try:
        engine = await open_database(settings)
    except SchemaMismatch as exc:
        sys.exit(f"mediation-room: {exc}")
    app = create_app(settings, engine)
    # Rooms are closed (recordings sealed) before the runner stops; what is left are browsers'
    # websockets, which need not hold the exit up for long.
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log_class=JsonAccessLogger if settings.log_format == "json" else AccessLogger,
        shutdown_timeout=2.0,
    )
    await runner.setup()
    password = await demo_account(engine, settings.demo_cases) if settings.demo else ""
    links = await seed_demo(settings, app[ROOMS], engine) if settings.demo else {}
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SystemExit(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; "
            "choose another --port"
        ) from exc
    print(f"mediation-room serving on {settings.base_url}", flush=True)
    if links:
        print("Demo case: open each link in its own browser tab or device:", flush=True)
        for role, url in links.items():
            print(f"  {ROLE_LABELS[role]}: {url}", flush=True)
        print(
            f"Mediator console: {settings.base_url}/console  "
            f"(user {DEMO_USER}, password {password}, new each run)",
            flush=True,
        )
        print(
            f"Office dashboard (supervisor): {settings.base_url}/console#/dashboard  "
            f"(user {DEMO_SUPERVISOR}, password {password}, the same)",
            flush=True,
        )
        if settings.links_file is not None:
            tmp = settings.links_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(links, ensure_ascii=False))
            tmp.replace(settings.links_file)
    else:
        print("No case is open yet (case creation comes with the case record).", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # From here /readyz says "draining" and no room opens while the live ones close.
    app[ROOMS].draining = True
    print("mediation-room stopping", flush=True)
    # Rooms first: recordings sealed and transcripts flushed before anything else goes away.
    await app[ROOMS].close_all()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, getattr(args, "log_format", "text"))
    try:
        if args.command == "serve":
            run_loop(serve(settings_from_args(args)), args.event_loop)
        elif args.command == "db" and args.db_command == "upgrade":
            asyncio.run(db_upgrade(args))
        elif args.command == "verify" and args.case_number.lower().endswith(".zip"):
            verify_bundle_file(Path(args.case_number))
        elif args.command == "verify":
            asyncio.run(verify_case(args))
        elif args.command == "bundle":
            asyncio.run(make_bundle(args))
        elif args.command == "recordings" and args.recordings_command == "purge":
            asyncio.run(purge_recordings(args))
        elif args.command == "drain":
            drain_node(args)
        elif args.command == "admin" and args.admin_command == "create-mediator":
            asyncio.run(create_mediator(args))
    except ValueError as exc:
        sys.exit(f"mediation-room: {exc}")


if __name__ == "__main__":
    main()
