"""The ``mediation-room`` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cases import db
from cases import repository as repo
from cases.models import Case, Mediator, Office
from server import retention
from server.access_log import AccessLogger
from server.app import create_app
from server.config import ENV_PREFIX, Settings, load_secret, parse_ice_servers
from server.database import SchemaMismatch, database_url, open_database
from server.demo import DEMO_USER, demo_account, seed_demo
from server.keys import ROOMS
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
    serve.add_argument("--demo", action="store_true", help="create a demo case, print 3 links")
    serve.add_argument("--links-file", type=Path, help="with --demo: also write the links as JSON")
    serve.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"))

    def database_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--database-url", default=serve.get_default("database_url"))
        sub.add_argument("--data-dir", type=Path, default=serve.get_default("data_dir"))
        sub.add_argument("--log-level", default=_env("LOG_LEVEL", "WARNING"))

    database = commands.add_parser("db", help="the case record's database")
    db_commands = database.add_subparsers(dest="db_command", required=True)
    database_options(db_commands.add_parser("upgrade", help="migrate the schema to this version"))

    verify = commands.add_parser(
        "verify", help="check a case's record against its audit chain (exit 1 if tampered)"
    )
    verify.add_argument("case_number", help="the case number, e.g. 2026-000123")
    database_options(verify)

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

    admin = commands.add_parser("admin", help="accounts")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_commands.add_parser(
        "create-mediator",
        help="create a mediator account (password from MEDIATION_ROOM_PASSWORD or a prompt)",
    )
    create.add_argument("--username", required=True)
    create.add_argument("--display-name", required=True)
    create.add_argument("--office", required=True, help="office name; created if new")
    database_options(create)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    env_hosts = _env("ICE_HOSTS")
    hosts = args.ice_hosts or (env_hosts.split(",") if env_hosts else None)
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        secret=load_secret(args.data_dir),
        database_url=args.database_url or "",
        public_url=args.public_url or "",
        ice_servers=parse_ice_servers(args.ice_servers),
        ice_hosts=tuple(hosts) if hosts else None,
        video_codec={"vp8": "video/VP8", "h264": "video/H264"}[args.video_codec],
        forwarding=args.forwarding,
        office_config=args.office_config,
        demo=args.demo,
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
            await repo.create_mediator(session, office, args.username, args.display_name, password)
    finally:
        await engine.dispose()
    print(f"created mediator {args.username!r} in {args.office}")


async def serve(settings: Settings) -> None:
    try:
        engine = await open_database(settings)
    except SchemaMismatch as exc:
        sys.exit(f"mediation-room: {exc}")
    app = create_app(settings, engine)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=AccessLogger)
    await runner.setup()
    password = await demo_account(engine) if settings.demo else ""
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
    print("mediation-room stopping", flush=True)
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "serve":
            asyncio.run(serve(settings_from_args(args)))
        elif args.command == "db" and args.db_command == "upgrade":
            asyncio.run(db_upgrade(args))
        elif args.command == "verify":
            asyncio.run(verify_case(args))
        elif args.command == "recordings" and args.recordings_command == "purge":
            asyncio.run(purge_recordings(args))
        elif args.command == "admin" and args.admin_command == "create-mediator":
            asyncio.run(create_mediator(args))
    except ValueError as exc:
        sys.exit(f"mediation-room: {exc}")


if __name__ == "__main__":
    main()
