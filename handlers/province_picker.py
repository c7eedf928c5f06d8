"""The province picker that onboarding and settings (handlers/profile.py) and a report's unlisted workplace
(handlers/intake.py) share: the 34 provinces as paged buttons, optionally the person's own province first,
and a typed name matched without diacritics (one match is taken, several are offered as buttons).

Each caller keeps its own flow (what a chosen province does, which state comes next); the picker only draws
the question, reads its buttons back (forgeable: anything else is None) and answers a typed name that did not
settle it. Callback data: f"{prefix}:{code}" picks a province, f"{prefix}page:{n}" shows page n.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup, Update

from bot.i18n import t
from bot.services import provinces
from bot.services.provinces import ProvinceInfo
from bot.text import escape
from handlers import ui
from handlers.context import BotContext

PER_PAGE = 10


@dataclass(frozen=True)
class ProvincePicker:
    prefix: str  # "prov", "wpprov", "rep:prov"
    ask_key: str  # the question above the buttons
    no_match_key: str  # {typed}: put above the question again
    pick_key: str  # above the buttons of several matches
    own_key: str | None = None  # {province}: a first button for the person's own province

    @property
    def choose_pattern(self) -> str:
        return rf"^{re.escape(self.prefix)}:"

    @property
    def page_pattern(self) -> str:
        return rf"^{re.escape(self.prefix)}page:"

    def keyboard(self, language: str, page: int = 0, own_code: int | None = None) -> InlineKeyboardMarkup:
        items = [(p.short_name, self._choose(p)) for p in provinces.all_provinces()]
        rows = ui.paged(items, page, PER_PAGE, f"{self.prefix}page:", language)
        own = provinces.get_province(own_code) if self.own_key and own_code is not None else None
        if own is not None:
            rows.insert(0, [(t(language, self.own_key, province=own.short_name), self._choose(own))])
        return ui.buttons(rows)

    async def ask(self, update: Update, context: BotContext, language: str, page: int = 0,
                  own_code: int | None = None) -> None:
        await ui.present(update, context, t(language, self.ask_key), self.keyboard(language, page, own_code))

    def page_of(self, data: str) -> int | None:
        raw = data.removeprefix(f"{self.prefix}page:")
        return int(raw) if raw != data and ui.is_id(raw) else None

    def province_of(self, data: str) -> ProvinceInfo | None:
        raw = data.removeprefix(f"{self.prefix}:")
        return provinces.get_province(int(raw)) if raw != data and ui.is_id(raw) else None

    async def answer_typed(self, update: Update, context: BotContext, language: str, shown: str,
                           matches: Sequence[ProvinceInfo], own_code: int | None = None) -> None:
        """A typed name that chose nothing: none matched (said above the question again) or several did
        (one button each). `shown` is the typed text as it may be quoted back (unescaped)."""
        if not matches:
            ui.note(context, t(language, self.no_match_key, typed=escape(shown)))
            await self.ask(update, context, language, 0, own_code)
            return
        rows = [[(p.short_name, self._choose(p))] for p in matches]
        await ui.send(update, t(language, self.pick_key), ui.buttons(rows))

    def _choose(self, province: ProvinceInfo) -> str:
        return f"{self.prefix}:{province.code}"
