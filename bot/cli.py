"""The `congdoan` command (also `python -m bot`)."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from bot.config import ConfigError, Settings, load_settings

app = typer.Typer(help="congdoan-bot: member engagement and grievances on Telegram.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
units_app = typer.Typer(help="Union units and workplaces.", no_args_is_help=True)
content_app = typer.Typer(help="Content files.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrators.", no_args_is_help=True)
officer_app = typer.Typer(help="Unit officers.", no_args_is_help=True)
contest_app = typer.Typer(help="Quiz contests.", no_args_is_help=True)
app.add_typer(contest_app, name="contest")
consultation_app = typer.Typer(help="Consultations on drafts and policies.", no_args_is_help=True)
app.add_typer(consultation_app, name="consultation")
member_app = typer.Typer(help="Members: muting an abusive account.", no_args_is_help=True)
app.add_typer(member_app, name="member")
survey_app = typer.Typer(help="Surveys.", no_args_is_help=True)
app.add_typer(survey_app, name="survey")
for sub, name in ((db_app, "db"), (units_app, "units"), (content_app, "content"), (admin_app, "admin"),
                  (officer_app, "officer")):
    app.add_typer(sub, name=name)

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]Configuration error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _with_session(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from db.migrate import upgrade_database
    from db.session import create_engine, create_session_factory

    async def main() -> T:
        await upgrade_database(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@app.callback()
def _logging(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs request URLs, which contain the bot token; alembic is chatty at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # A crash inside a C extension (sqlite3, asyncpg, greenlet) then leaves a Python traceback in the log
    # instead of a bare "segfault" line in the kernel's: bench/broadcast.py's sender died that way once.
    with contextlib.suppress(ValueError, OSError):  # no real stderr (captured in-process): nothing to do
        faulthandler.enable()


SandboxPort = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the sandbox's web page.")]


@app.command()
def run(port: SandboxPort = 8080) -> None:
    """Run the bot (polling, or webhook when WEBHOOK_URL is set). Upgrades the schema first.
    Without BOT_TOKEN, starts the sandbox instead (the bot in a browser page, no Telegram needed)."""
    settings = _settings()
    if not settings.bot_token:
        console.print("BOT_TOKEN is not set: starting the sandbox instead (put the token from @BotFather in .env "
                      "as BOT_TOKEN=123456:ABC... to connect to Telegram).", highlight=False)
        _run_sandbox(port, fresh=False)
        return
    from bot.runner import run as run_bot

    run_bot(settings)


@app.command()
def sandbox(
    port: SandboxPort = 8080,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start over from the demo data.")] = False,
) -> None:
    """The bot, a Bot API emulator and a Telegram-like page at http://127.0.0.1:PORT, with demo data in
    data/sandbox.db: try every feature as a worker, an officer or an admin without Telegram."""
    _run_sandbox(port, fresh)


def _run_sandbox(port: int, fresh: bool) -> None:
    from sandbox.app import serve

    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.WARNING)
    asyncio.run(serve(port=port, fresh=fresh))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the database schema to the latest migration."""
    from db.migrate import upgrade_database

    settings = _settings()
    asyncio.run(upgrade_database(settings.database_url))
    console.print("Database schema is up to date.")


@units_app.command("import")
def units_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Import units and workplaces from a CSV file; nothing is imported if any line is bad."""
    from bot.services.units import UnitsImportError, import_units

    settings = _settings()
    text = file.read_bytes().decode("utf-8-sig")
    try:
        result = _with_session(settings, lambda session: import_units(session, text))
    except UnitsImportError as exc:
        for problem in exc.problems:
            err.print(f"{file}:{problem.line}: {problem.message}", highlight=False)
        err.print(f"[red]Nothing imported: {len(exc.problems)} problem(s).[/red]")
        raise typer.Exit(1) from None
    console.print(f"Units: {result.units_created} created, {result.units_updated} updated. "
                  f"Workplaces: {result.workplaces_created} created, {result.workplaces_updated} updated.")


@content_app.command("check")
def content_check() -> None:
    """Validate the content files and translation catalogs; print each problem with its file."""
    from bot.services.content_check import check_all

    problems = check_all()
    for problem in problems:
        err.print(problem, highlight=False)
    if problems:
        err.print(f"[red]{len(problems)} problem(s).[/red]")
        raise typer.Exit(1)
    console.print("Content is valid.")


@admin_app.command("add")
def admin_add(telegram_id: int) -> None:
    """Make a Telegram user an administrator."""
    from bot.services.officers import add_admin

    settings = _settings()
    added = _with_session(settings, lambda session: add_admin(session, telegram_id, "cli"))
    console.print(f"{telegram_id} is {'now' if added else 'already'} an administrator.")


@officer_app.command("invite")
def officer_invite(
    unit_code: str,
    days: Annotated[int, typer.Option(min=1, max=90, help="Days before the link expires.")] = 7,
    unit_admin: Annotated[bool, typer.Option("--unit-admin", help="Invite a unit admin.")] = False,
    bot_username: Annotated[str | None, typer.Option(help="Bot username; asked from Telegram if omitted.")] = None,
) -> None:
    """Print a single-use deep link that makes its first user an officer of UNIT_CODE."""
    from bot.services import officers, units
    from db.models import OfficerRole

    settings = _settings()
    username = bot_username or _bot_username(settings)
    role = OfficerRole.UNIT_ADMIN if unit_admin else OfficerRole.OFFICER

    async def create(session):  # type: ignore[no-untyped-def]
        unit = await units.get_unit_by_code(session, unit_code.strip().upper())
        if unit is None:
            return None
        invite = await officers.create_invite(session, unit, "cli", role, timedelta(days=days))
        return unit, invite

    created = _with_session(settings, create)
    if created is None:
        err.print(f"Unknown unit code {unit_code!r}.", highlight=False)
        raise typer.Exit(1)
    unit, invite = created
    console.print(f"Invite for {unit.name} ({unit.code}), valid {days} day(s), single use:", highlight=False)
    print(officers.deep_link(username, invite))


@officer_app.command("list")
def officer_list(unit_code: str) -> None:
    """Print the active officers of UNIT_CODE with the id `officer revoke` takes."""
    from bot.services import admin_units

    found = _with_session(_settings(), lambda session: admin_units.officers_of_unit_code(
        session, unit_code.strip().upper()))
    if found is None:
        err.print(f"Unknown unit code {unit_code!r}.", highlight=False)
        raise typer.Exit(1)
    unit, rows = found
    console.print(f"{unit.name} ({unit.code}): {len(rows)} officer(s)", highlight=False)
    for row in rows:
        print(f"{row.officer.id}\t{row.officer.role.value}\t{row.name or '-'}\t@{row.username or '-'}")


@officer_app.command("revoke")
def officer_revoke(token_or_officer: str) -> None:
    """Revoke an unused invite (its token, officer-TOKEN or the whole link) or an officer (the id from
    `congdoan officer list`)."""
    from bot.services import admin_units

    async def revoke(session):  # type: ignore[no-untyped-def]
        try:
            return await admin_units.revoke_by_token_or_id(session, token_or_officer, "cli")
        except admin_units.NotAllowed:
            return None

    revoked = _with_session(_settings(), revoke)
    if revoked is None:
        err.print(f"Nothing to revoke for {token_or_officer!r} (unknown, already used or already revoked).",
                  highlight=False)
        raise typer.Exit(1)
    console.print(f"Revoked {revoked}.", highlight=False)


def _mute_target(session, target: str):  # type: ignore[no-untyped-def]
    """A Telegram id, or a case code (its author, whose identity is not printed)."""
    from bot.services import case_queries
    from db.models import Member

    async def find() -> int | None:
        if target.strip().lstrip("-").isascii() and target.strip().lstrip("-").isdigit():
            return int(target)
        grievance = await case_queries.find_case(session, target)
        member = await session.get(Member, grievance.member_id) if grievance and grievance.member_id else None
        return member.telegram_id if member else None

    return find()


@member_app.command("mute")
def member_mute(telegram_id_or_case: str) -> None:
    """Mute an abusive account (a Telegram id, or a case code for its author): its messages get one short
    answer and nothing else. A running bot applies it within a minute."""
    from bot.services import limits

    async def mute(session):  # type: ignore[no-untyped-def]
        telegram_id = await _mute_target(session, telegram_id_or_case)
        return None if telegram_id is None else await limits.mute(session, telegram_id, "cli")

    muted = _with_session(_settings(), mute)
    if muted is None:
        err.print(f"No account found for {telegram_id_or_case!r}.", highlight=False)
        raise typer.Exit(1)
    console.print("Muted." if muted else "Already muted.")


@member_app.command("unmute")
def member_unmute(telegram_id_or_case: str) -> None:
    """Lift a mute."""
    from bot.services import limits

    async def unmute(session):  # type: ignore[no-untyped-def]
        telegram_id = await _mute_target(session, telegram_id_or_case)
        return None if telegram_id is None else await limits.unmute(session, telegram_id, "cli")

    unmuted = _with_session(_settings(), unmute)
    if unmuted is None:
        err.print(f"No account found for {telegram_id_or_case!r}.", highlight=False)
        raise typer.Exit(1)
    console.print("Unmuted." if unmuted else "That account was not muted.")


@contest_app.command("load")
def contest_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    quiz_dir: Annotated[Path | None, typer.Option(help="Quiz files (default: content/quizzes).")] = None,
) -> None:
    """Create or update a contest and its rounds from content/contests/NAME.yaml."""
    from bot.services import contests, quizzes

    loaded = quizzes.load_quizzes(quiz_dir or quizzes.QUIZ_DIR)
    spec, problems = quizzes.load_contest(file, loaded.quizzes)
    for problem in problems:
        err.print(problem, highlight=False)
    if spec is None:
        err.print(f"[red]Nothing loaded: {len(problems)} problem(s).[/red]")
        raise typer.Exit(1)
    settings = _settings()
    try:
        contest, created, updated = _with_session(
            settings, lambda session: contests.load_contest(session, spec, loaded.quizzes))
    except contests.ContestError as exc:
        err.print(f"{file}: {exc}", highlight=False)
        raise typer.Exit(1) from None
    console.print(f"Contest {contest.slug}: {len(contest.pool)} questions in the pool; rounds: {created} created, "
                  f"{updated} updated. A running bot picks the rounds up within a minute.", highlight=False)


def _bot_username(settings: Settings) -> str:
    if not settings.bot_token:
        err.print("Give --bot-username, or set BOT_TOKEN so the bot's username can be asked from Telegram.")
        raise typer.Exit(2)
    from telegram import Bot

    async def ask() -> str:
        async with Bot(settings.bot_token, base_url=settings.telegram_api_url) as bot:
            return bot.username

    return asyncio.run(ask())


@consultation_app.command("open")
def consultation_open(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Open a consultation from a YAML file (or update the one with its slug); members see it in /gopy."""
    from bot.services import consultations
    from db.types import utcnow

    settings = _settings()
    try:
        spec = consultations.load_spec_file(file, settings.tz)
        consultation, created = _with_session(
            settings, lambda session: consultations.open_consultation(session, spec, "cli", utcnow()))
    except consultations.SpecError as exc:
        for problem in exc.problems:
            err.print(f"{file}: {problem}", highlight=False)
        err.print(f"[red]Not opened: {len(exc.problems)} problem(s).[/red]")
        raise typer.Exit(1) from None
    deadline = consultation.deadline.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    console.print(f"Consultation {consultation.slug} {'opened' if created else 'updated'}; comments until "
                  f"{deadline}.", highlight=False)


def _check_export_format(output_format: str) -> None:
    if output_format not in ("xlsx", "csv"):
        err.print("--format must be xlsx or csv")
        raise typer.Exit(2)


@consultation_app.command("export")
def consultation_export(
    slug: str,
    output_format: Annotated[str, typer.Option("--format", help="xlsx or csv")] = "xlsx",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write")] = None,
) -> None:
    """Write every comment of a consultation to an XLSX or CSV file (identity empty for anonymous ones)."""
    from bot.services import consultations

    _check_export_format(output_format)
    settings = _settings()
    try:
        consultation, rows = _with_session(
            settings, lambda session: consultations.export_rows(session, slug, settings.tz))
    except consultations.SpecError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    path = output or Path(f"{slug}-comments.{output_format}")
    if output_format == "xlsx":
        consultations.write_xlsx(path, consultation, rows)
    else:
        consultations.write_csv(path, rows)
    console.print(f"{len(rows)} comment(s) written to {path}.", highlight=False)


@app.command("report")
def report(
    unit: Annotated[str, typer.Option("--unit", help="Unit code; the report covers it and every unit below.")],
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (local time).")],
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD, included.")],
    output_format: Annotated[str, typer.Option("--format", help="xlsx, or csv (a zip of one CSV per table)")] = "xlsx",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write")] = None,
) -> None:
    """Write a unit subtree's report for a period: one XLSX sheet, or one CSV file in a zip, per table."""
    from datetime import date

    from rich.progress import Progress

    from bot.services import reports, units
    from db.types import utcnow

    _check_export_format(output_format)
    try:
        period = reports.Period(date.fromisoformat(date_from), date.fromisoformat(date_to))
    except ValueError:
        err.print("--from and --to must be dates like 2026-11-01")
        raise typer.Exit(2) from None
    if period.end < period.start:
        err.print("--to must not be before --from")
        raise typer.Exit(2)
    settings = _settings()
    code = unit.strip().upper()

    async def build(session):  # type: ignore[no-untyped-def]
        found = await units.get_unit_by_code(session, code)
        if found is None:
            return None
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task(f"Report {code}", total=reports.TABLE_COUNT)
            async with reports.report_session(session.bind) as reading:
                return await reports.build_report(reading, found.id, period, settings.tz, utcnow(),
                                                  progress=lambda _key: progress.advance(task))

    built = _with_session(settings, build)
    if built is None:
        err.print(f"Unknown unit code {unit!r}.", highlight=False)
        raise typer.Exit(1)
    suffix = "xlsx" if output_format == "xlsx" else "zip"
    path = output or Path(f"report-{code}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{suffix}")
    if output_format == "xlsx":
        reports.write_xlsx(built, path)
    else:
        reports.write_csv_zip(built, path)
    console.print(f"{len(built.tables)} tables written to {path}.", highlight=False)


@survey_app.command("load")
def survey_load(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Create or update a survey from content/surveys/NAME.yaml (checked first; nothing loaded on a problem)."""
    from bot.services import surveys

    spec, problems = surveys.load_file(file)
    for problem in problems:
        err.print(problem, highlight=False)
    if spec is None:
        err.print(f"[red]Nothing loaded: {len(problems)} problem(s).[/red]")
        raise typer.Exit(1)
    settings = _settings()
    try:
        survey, created = _with_session(settings, lambda session: surveys.save_survey(session, spec, "cli"))
    except surveys.SurveyError as exc:
        err.print(f"{file}: {exc}", highlight=False)
        raise typer.Exit(1) from None
    opens, closes = (moment.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
                     for moment in (survey.opens_at, survey.closes_at))
    console.print(f"Survey {survey.slug} {'created' if created else 'updated'}: {len(survey.questions)} questions, "
                  f"open {opens}–{closes}. A running bot picks it up within a minute.", highlight=False)


def main() -> None:
    app()
