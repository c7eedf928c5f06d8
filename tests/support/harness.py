"""Drive the real PTB Application over HTTP through the Bot API emulator, as a worker would."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot import i18n
from bot.app import CongdoanApplication, build_application
from bot.config import Settings, load_settings
from bot.runner import on_startup
from db.session import create_engine
from sandbox.emulator import BotApiEmulator, EmulatorUser
from sandbox.emulator.markup import parse_html

TOKEN = "7000000001:TEST-congdoan"
BOT_USERNAME = "congdoan_test_bot"
ADMIN_ID = 9_000_001
DEMO = {
    "garment_workplace": "WP-MAYSH",
    "grassroots_unit": "CDCS-MAYSH",
}


@dataclass
class Harness:
    emulator: BotApiEmulator
    settings: Settings
    application: CongdoanApplication | None = None
    # Codes in content/demo/units.csv that the transcripts rely on.
    demo: dict[str, str] = field(default_factory=lambda: dict(DEMO))

    @property
    def session_factory(self):  # type: ignore[no-untyped-def]
        return self.application.bot_data["session_factory"]

    def user(self, first_name: str = "Lan", **kwargs: Any) -> EmulatorUser:
        kwargs.setdefault("language_code", "vi")
        return self.emulator.create_user(first_name=first_name, **kwargs)

    async def start_bot(self) -> None:
        engine = create_engine(self.settings.database_url)
        application = build_application(self.settings, engine, persistence_interval=0.2)
        await application.initialize()
        await on_startup(application)
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        self.application = application

    async def stop_bot(self) -> None:
        application, self.application = self.application, None
        if application is None:
            return
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await application.bot_data["engine"].dispose()

    async def restart_bot(self) -> None:
        await self.stop_bot()
        await self.start_bot()

    async def send(self, user: EmulatorUser, text: str, **kwargs: Any) -> dict:
        return await self.emulator.send_text(user, text, **kwargs)

    async def reply_to(self, user: EmulatorUser, text: str, timeout: float = 5.0) -> dict:
        """Send text as the user and return what they see next (see `next`)."""
        await self.emulator.send_text(user, text)
        return await self.next(user, timeout=timeout)

    async def press(self, user: EmulatorUser, message: dict, data: str, **kwargs: Any) -> str:
        return await self.emulator.press_button(user, message, data, **kwargs)

    async def edited(self, user_or_chat: EmulatorUser | int, message_id: int, timeout: float = 5.0) -> dict:
        """Wait until the bot edits that message; returns the edited message."""
        chat_id = user_or_chat if isinstance(user_or_chat, int) else user_or_chat.id
        while True:
            event = await self.emulator.next_event(chat_id, timeout=timeout)
            if event["kind"] == "edited" and event["message"]["message_id"] == message_id:
                return event["message"]

    async def next(self, user_or_chat: EmulatorUser | int, timeout: float = 5.0) -> dict:
        """The next thing the user sees change in the chat: a new message, or a message edited in place
        (the bot shows its next question in place of the one just answered)."""
        chat_id = user_or_chat if isinstance(user_or_chat, int) else user_or_chat.id
        return await self.emulator.next_change(chat_id, timeout=timeout)


def make_settings(db_url: str, emulator: BotApiEmulator, **overrides: Any) -> Settings:
    return load_settings(env_file=None, bot_token=TOKEN, database_url=db_url,
                         telegram_api_url=emulator.base_url, admin_ids=[ADMIN_ID], **overrides)


def buttons_of(message: dict) -> list[tuple[str, str]]:
    """(text, callback_data or url) of every inline button, row by row."""
    markup = message.get("reply_markup") or {}
    return [(b["text"], b.get("callback_data") or b.get("url", ""))
            for row in markup.get("inline_keyboard", []) for b in row]


def data_of(message: dict, text_part: str) -> str:
    """The callback data of the first button whose text contains text_part."""
    for text, data in buttons_of(message):
        if text_part in text:
            return data
    raise AssertionError(f"no button with {text_part!r} in {buttons_of(message)}")


def reply_keyboard_of(message: dict) -> list[str]:
    markup = message.get("reply_keyboard") or {}
    return [b if isinstance(b, str) else b["text"] for row in markup.get("keyboard", []) for b in row]


def t(language: str, key: str, /, **values: object) -> str:
    """A catalog text as the user sees it: HTML rendered to plain text, as Telegram stores it."""
    return parse_html(i18n.t(language, key, **values))[0]
