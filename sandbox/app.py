"""The sandbox assembled: the Bot API emulator, the real bot polling it, the demo data, and the browser page.

Everything runs in one event loop. The bot is built exactly as in production (`bot.app.build_application`,
`bot.runner.on_startup`); only its settings differ (the emulator's URL, a SQLite file, the admin persona's id).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import CONTENT_DIR
from bot.app import CongdoanApplication, build_application
from bot.config import Settings, load_settings
from bot.runner import load_content_or_exit, on_startup
from db.migrate import upgrade_database
from db.session import create_engine, create_session_factory
from db.types import utcnow
from sandbox.demo import load_demo_units
from sandbox.emulator import BotApiEmulator
from sandbox.personas import Cast, create_cast, is_seeded, seed_database

log = logging.getLogger(__name__)

TOKEN = "7000000008:SANDBOX-congdoan"
BOT_USERNAME = "congdoan_sandbox_bot"
BOT_NAME = "Công đoàn Việt Nam"
DEFAULT_DATA_DIR = Path("data")


class SandboxEmulator(BotApiEmulator):
    """The emulator, telling the page about everything the bot does. Nobody awaits the test-side queues
    here, so they are emptied as they fill."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners: set[asyncio.Queue[dict[str, Any]]] = set()

    def record_event(self, chat_id: int, kind: str, message: dict[str, Any] | None = None, **extra: Any) -> None:
        super().record_event(chat_id, kind, message, **extra)
        chat_log = self._log(chat_id)
        chat_log.sent.clear()
        chat_log.events.clear()
        self.publish({"type": "event", "chat_id": chat_id, "kind": kind, "message": message, **extra})

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self.listeners):
            if queue.qsize() < 1000:  # a tab that stopped reading does not grow memory without end
                queue.put_nowait(event)


@dataclasses.dataclass
class World:
    emulator: SandboxEmulator
    cast: Cast
    settings: Settings
    application: CongdoanApplication


class Sandbox:
    def __init__(self, data_dir: Path = DEFAULT_DATA_DIR) -> None:
        self.data_dir = data_dir
        self.world: World | None = None
        self.notes: list[str] = []  # what was loaded, or could not be, for the start-up lines
        self.listeners: set[asyncio.Queue[dict[str, Any]]] = set()
        self._lock = asyncio.Lock()

    @property
    def database_path(self) -> Path:
        return self.data_dir / "sandbox.db"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.database_path}"

    async def start(self, fresh: bool = False) -> None:
        async with self._lock:
            await self._start(fresh)

    async def reset(self) -> None:
        """Back to the demo data: a new database and empty chats."""
        async with self._lock:
            await self._stop()
            await self._start(fresh=True)
        self._broadcast({"type": "reset"})

    async def stop(self) -> None:
        async with self._lock:
            await self._stop()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.listeners.add(queue)
        if self.world:
            self.world.emulator.listeners.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.listeners.discard(queue)
        if self.world:
            self.world.emulator.listeners.discard(queue)

    def close_pages(self) -> None:
        """End the pages' event streams, so the web server can shut down at once."""
        self._broadcast({"type": "closing"})

    def _broadcast(self, event: dict[str, Any]) -> None:
        for queue in list(self.listeners):
            queue.put_nowait(event)

    async def _start(self, fresh: bool) -> None:
        load_content_or_exit()
        self._prepare_files(fresh)
        emulator = SandboxEmulator()
        await emulator.start()
        emulator.add_bot(TOKEN, username=BOT_USERNAME, first_name=BOT_NAME)
        cast = create_cast(emulator)
        await upgrade_database(self.database_url)
        self.notes = await self._seed(cast)
        settings = load_settings(env_file=None, bot_token=TOKEN, database_url=self.database_url,
                                 telegram_api_url=emulator.base_url, admin_ids=cast.admin_ids(), webhook_url=None)
        application = build_application(settings, create_engine(settings.database_url))
        await application.initialize()
        await on_startup(application)
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=10)
        emulator.listeners.update(self.listeners)
        self.world = World(emulator, cast, settings, application)

    def _prepare_files(self, fresh: bool) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.database_path}{suffix}").unlink(missing_ok=True)

    async def _seed(self, cast: Cast) -> list[str]:
        engine = create_engine(self.database_url)
        factory = create_session_factory(engine)
        try:
            async with factory() as session:
                if await is_seeded(session, cast):
                    return ["the database already holds the demo data (--fresh or the Reset button start over)"]
            await load_demo_units(self.database_url)
            async with factory() as session:
                await seed_database(session, cast)
                return [*await load_contests(session), *await load_surveys(session)]
        finally:
            await engine.dispose()

    async def _stop(self) -> None:
        world, self.world = self.world, None
        if world is None:
            return
        application = world.application
        with contextlib.suppress(Exception):
            await application.updater.stop()
            await application.stop()
            await application.shutdown()
        await application.bot_data["engine"].dispose()
        await world.emulator.stop()


async def load_contests(session: Any) -> list[str]:
    """Every contest in content/contests/, its first round moved to have opened an hour ago (and the
    others to follow it week by week), so the sandbox always has a round to play."""
    from bot.services import contests, quizzes

    loaded = quizzes.load_quizzes(quizzes.QUIZ_DIR)
    notes = []
    for path in sorted((CONTENT_DIR / "contests").glob("*.yaml")):
        spec, problems = quizzes.load_contest(path, loaded.quizzes)
        if spec is None:
            notes.append(f"contest {path.name} not loaded: {'; '.join(problems)}")
            continue
        start = utcnow() - timedelta(hours=1)
        rounds = tuple(dataclasses.replace(item, starts_at=start + timedelta(days=7 * index),
                                           ends_at=start + timedelta(days=7 * index + 6, hours=12))
                       for index, item in enumerate(spec.rounds))
        contest, _, _ = await contests.load_contest(session, dataclasses.replace(spec, rounds=rounds),
                                                    loaded.quizzes)
        notes.append(f"contest {contest.slug}: round 1 open now")
    return notes


async def load_surveys(session: Any) -> list[str]:
    """Every survey in content/surveys/, opened an hour ago for two weeks, when the survey feature exists."""
    try:
        from bot.services import surveys
    except ImportError:
        return ["no survey loaded: this version has no surveys"]
    notes = []
    start = utcnow() - timedelta(hours=1)
    for path in sorted(surveys.SURVEY_DIR.glob("*.yaml")):
        spec, problems = surveys.load_file(path)
        if spec is None:
            notes.append(f"survey {path.name} not loaded: {'; '.join(problems)}")
            continue
        spec = dataclasses.replace(spec, opens_at=start, closes_at=start + timedelta(days=14))
        survey, _ = await surveys.save_survey(session, spec, "sandbox")
        notes.append(f"survey {survey.slug}: open now")
    return notes or ["no survey loaded: content/surveys/ has none"]


# ----- running it from the command line -----

async def serve(port: int = 8080, host: str = "127.0.0.1", fresh: bool = False,
                data_dir: Path = DEFAULT_DATA_DIR, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Start everything, print the address, and run until `stop` (or SIGINT/SIGTERM)."""
    from sandbox.web import make_web_app

    stop = stop or _stop_on_signals()
    sandbox = Sandbox(data_dir)
    await sandbox.start(fresh=fresh)
    runner = web.AppRunner(make_web_app(sandbox), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await sandbox.stop()
        await runner.cleanup()
        raise SystemExit(f"Cannot listen on {host}:{port}: {error.strerror}. Try --port with another number.") \
            from None
    for note in sandbox.notes:
        log.info("%s", note)
    print(f"Sandbox ready: open http://{host}:{port} in a browser (no Telegram needed).", flush=True)
    print("First: pick a person at the top (start with Lan, the garment worker) and send /report "
          "to raise a concern; then switch to Hùng to see its card in his union's group.", flush=True)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        sandbox.close_pages()
        await runner.cleanup()
        await sandbox.stop()


def _stop_on_signals() -> asyncio.Event:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@contextlib.asynccontextmanager
async def running(port: int = 0, data_dir: Path = DEFAULT_DATA_DIR) -> AsyncIterator[tuple[Sandbox, str]]:
    """The sandbox and its page on a free port, for tests: yields (sandbox, base URL)."""
    from sandbox.web import make_web_app

    sandbox = Sandbox(data_dir)
    await sandbox.start(fresh=True)
    runner = web.AppRunner(make_web_app(sandbox), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield sandbox, f"http://127.0.0.1:{bound}"
    finally:
        sandbox.close_pages()
        await runner.cleanup()
        await sandbox.stop()
