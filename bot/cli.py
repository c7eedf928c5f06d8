"""The `congdoan` command (also `python -m bot`)."""

from __future__ import annotations

import asyncio
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


@app.command()
def run() -> None:
    """Run the bot (polling, or webhook when WEBHOOK_URL is set). Upgrades the schema first."""
    settings = _settings()
    if not settings.bot_token:
        err.print("BOT_TOKEN is not set: put the token from @BotFather in .env (BOT_TOKEN=123456:ABC...) "
                  "or the environment, then run again.", highlight=False)
        raise typer.Exit(2)
    from bot.runner import run as run_bot

    run_bot(settings)


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


@consultation_app.command("export")
def consultation_export(
    slug: str,
    output_format: Annotated[str, typer.Option("--format", help="xlsx or csv")] = "xlsx",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write")] = None,
) -> None:
    """Write every comment of a consultation to an XLSX or CSV file (identity empty for anonymous ones)."""
    from bot.services import consultations

    if output_format not in ("xlsx", "csv"):
        err.print("--format must be xlsx or csv")
        raise typer.Exit(2)
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


def main() -> None:
    app()
