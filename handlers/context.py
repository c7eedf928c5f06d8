"""The per-update context: the DB session opened around each update, settings, and the member."""

from __future__ import annotations

import contextvars
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.i18n import normalise_language
from bot.services import members
from db.models import Member

CURRENT_SESSION: contextvars.ContextVar[AsyncSession] = contextvars.ContextVar("congdoan_db_session")
# Small per-update notes between helpers (e.g. "the button press was answered"), reset for every update.
CURRENT_SCRATCH: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("congdoan_scratch")
_MEMBER_KEY = "member"


class BotContext(CallbackContext[ExtBot[None], dict[str, Any], dict[str, Any], dict[str, Any]]):
    @property
    def db(self) -> AsyncSession:
        """The session of the update being handled (opened by bot.app.CongdoanApplication)."""
        return CURRENT_SESSION.get()

    @property
    def scratch(self) -> dict[str, Any]:
        return CURRENT_SCRATCH.get()

    @property
    def settings(self) -> Settings:
        return self.application.bot_data["settings"]


BotApplication = Application[ExtBot[None], BotContext, dict[str, Any], dict[str, Any], dict[str, Any], Any]


async def current_member(update: Update, context: BotContext) -> Member | None:
    """The member behind this update, created on first contact; None for updates without a user."""
    user = update.effective_user
    if user is None or user.is_bot:
        return None
    cached = context.db.info.get(_MEMBER_KEY)
    if cached is not None and cached.telegram_id == user.id:
        return cached
    identity = members.TelegramIdentity(user.id, user.first_name, user.last_name, user.username,
                                        user.language_code)
    member = await members.get_or_create_member(context.db, identity, normalise_language(user.language_code))
    context.db.info[_MEMBER_KEY] = member
    return member


def identity_of(update: Update) -> members.TelegramIdentity | None:
    user = update.effective_user
    if user is None:
        return None
    return members.TelegramIdentity(user.id, user.first_name, user.last_name, user.username, user.language_code)


async def language_of(update: Update, context: BotContext) -> str:
    member = await current_member(update, context)
    if member is not None:
        return member.language
    user = update.effective_user
    return normalise_language(user.language_code if user else None)
