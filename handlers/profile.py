"""Onboarding and settings: language, consent, province, sector, workplace, union membership.

One persistent ConversationHandler serves both flows. `user_data["flow"]` says what follows a step:
the next onboarding step, or the settings screen again.
"""

from __future__ import annotations

import warnings

from telegram import Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.i18n import LANGUAGES, t
from bot.services import members, officers, provinces, workplaces
from bot.services.sectors import all_sectors, get_sector
from bot.text import escape, nfc
from db.models import Member, UnionStatus, Workplace
from handlers import joining, privacy, ui
from handlers.context import BotContext, current_member, identity_of
from handlers.province_picker import ProvincePicker

LANGUAGE, CONSENT, PROVINCE, SECTOR, WORKPLACE, WORKPLACE_NAME, WORKPLACE_PROVINCE, MEMBERSHIP, SETTINGS = (
    "language", "consent", "province", "sector", "workplace", "workplace_name", "workplace_province",
    "membership", "settings",
)
ONBOARDING_ORDER = (LANGUAGE, CONSENT, PROVINCE, SECTOR, WORKPLACE, MEMBERSHIP)
ONBOARDING, SETTINGS_FLOW = "onboarding", "settings"
PICKERS = {
    PROVINCE: ProvincePicker("prov", "province.ask", "province.no_match", "province.pick_match"),
    WORKPLACE_PROVINCE: ProvincePicker("wpprov", "workplace.ask_province", "province.no_match", "province.pick_match",
                                       own_key="workplace.same_province"),
}
WORKPLACE_PREFIX = "w-"
TEXT_LIMIT = 255
END = ConversationHandler.END


# ----- entry points -----

async def start(update: Update, context: BotContext) -> str | int:
    member = await current_member(update, context)
    if member is None:
        return END
    payload = " ".join(context.args or [])
    if payload.startswith(officers.INVITE_PREFIX):
        return await _redeem_invite(update, context, member, payload.removeprefix(officers.INVITE_PREFIX))
    context.user_data.clear()
    if payload.startswith(WORKPLACE_PREFIX):
        await _remember_workplace_link(update, context, member, payload.removeprefix(WORKPLACE_PREFIX))
    if member.onboarded_at is not None and not members.needs_consent(member):
        if "prefill_workplace" in context.user_data:
            context.user_data["flow"] = SETTINGS_FLOW
            return await ask_workplace(update, context, member)
        await ui.send(update, t(member.language, "start.welcome_back", name=_display_name(member)),
                      ui.main_menu(member.language))
        return END
    context.user_data["flow"] = ONBOARDING
    return await ask_language(update, context, member)


async def open_settings(update: Update, context: BotContext) -> str | int:
    member = await current_member(update, context)
    if member is None:
        return END
    context.user_data.pop("prefill_workplace", None)
    context.user_data["flow"] = SETTINGS_FLOW
    return await show_settings(update, context, member)


async def _remember_workplace_link(update: Update, context: BotContext, member: Member, code: str) -> None:
    workplace = await workplaces.get_workplace_by_code(context.db, code.strip().upper())
    if workplace is None:
        ui.note(context, t(member.language, "start.unknown_workplace_link"))
        return
    context.user_data["prefill_workplace"] = workplace.id


async def _redeem_invite(update: Update, context: BotContext, member: Member, token: str) -> int:
    try:
        redeemed = await officers.redeem_invite(context.db, token, member)
    except officers.InviteRejected as rejected:
        await ui.send(update, t(member.language, f"invite.{rejected.problem.value}"), ui.main_menu(member.language))
        return END
    await members.keep_names_for_role(context.db, member, identity_of(update))
    key = "invite.already_officer" if redeemed.already_officer else "invite.accepted"
    await ui.send(update, t(member.language, key, unit=escape(redeemed.unit.name)), ui.main_menu(member.language))
    return END


# ----- the steps: each asks, and each answer leads to the next -----

async def ask_language(update: Update, context: BotContext, member: Member) -> str:
    rows = [[(t(code, "language.name"), f"lang:{code}") for code in LANGUAGES]]
    await ui.present(update, context, t(member.language, "language.ask"), ui.buttons(rows))
    return LANGUAGE


async def on_language(update: Update, context: BotContext) -> str | int:
    query, member = update.callback_query, await current_member(update, context)
    code = query.data.removeprefix("lang:")
    if code not in LANGUAGES:
        return await _stale(update, context, member, LANGUAGE)
    await members.set_language(context.db, member, code)
    ui.note(context, t(code, "language.chosen", language=t(code, "language.name")))
    return await _after(update, context, member, LANGUAGE)


async def ask_consent(update: Update, context: BotContext, member: Member) -> str:
    rows = [[(t(member.language, "consent.agree"), "consent:yes")],
            [(t(member.language, "consent.decline"), "consent:no")],
            [(t(member.language, "consent.more"), "consent:more")]]
    await ui.present(update, context, t(member.language, "consent.notice"), ui.buttons(rows))
    return CONSENT


async def on_consent(update: Update, context: BotContext) -> str | int:
    query, member = update.callback_query, await current_member(update, context)
    choice = query.data.removeprefix("consent:")
    if choice == "more":
        await ui.acknowledge(update, context)
        await ui.send(update, t(member.language, "consent.details"))
        return CONSENT
    if choice not in ("yes", "no"):
        return await _stale(update, context, member, CONSENT)
    granted = choice == "yes"
    await members.record_consent(context.db, member, granted, identity_of(update))
    ui.note(context, t(member.language, "consent.agreed" if granted else "consent.declined_short"))
    if not granted:
        context.user_data.clear()
        await ui.present(update, context, t(member.language, "consent.declined"), ui.main_menu(member.language))
        return END
    return await _after(update, context, member, CONSENT)


async def ask_withdraw(update: Update, context: BotContext, member: Member) -> str:
    rows = [[(t(member.language, "consent.withdraw_confirm"), "consent:withdraw")],
            [(t(member.language, "consent.keep"), "consent:keep")]]
    await ui.present(update, context, t(member.language, "consent.withdraw_ask"), ui.buttons(rows))
    return CONSENT


async def on_withdraw(update: Update, context: BotContext) -> str | int:
    query, member = update.callback_query, await current_member(update, context)
    if query.data == "consent:keep":
        ui.note(context, t(member.language, "consent.kept"))
        return await show_settings(update, context, member)
    await members.record_consent(context.db, member, False, identity_of(update))
    ui.note(context, t(member.language, "consent.withdrawn"))
    context.user_data.clear()
    await ui.present(update, context, t(member.language, "consent.declined"), ui.main_menu(member.language))
    return END


async def ask_province(update: Update, context: BotContext, member: Member, page: int = 0,
                       state: str = PROVINCE) -> str:
    await PICKERS[state].ask(update, context, member.language, page, member.province_code)
    return state


def _province_state(data: str) -> str:
    return PROVINCE if data.startswith(PICKERS[PROVINCE].prefix) else WORKPLACE_PROVINCE


async def on_province_page(update: Update, context: BotContext) -> str:
    member, data = await current_member(update, context), update.callback_query.data
    state = _province_state(data)
    page = PICKERS[state].page_of(data)
    if page is None:
        return await _stale(update, context, member, state)
    return await ask_province(update, context, member, page, state)


async def on_province_button(update: Update, context: BotContext) -> str | int:
    member, data = await current_member(update, context), update.callback_query.data
    state = _province_state(data)
    province = PICKERS[state].province_of(data)
    if province is None:
        return await _stale(update, context, member, state)
    ui.note(context, t(member.language, "province.chosen", province=province.name))
    return await _province_chosen(update, context, member, province, state)


async def on_province_text(update: Update, context: BotContext) -> str | int:
    member = await current_member(update, context)
    state = context.user_data.get("province_state", PROVINCE)
    typed = nfc(update.effective_message.text)
    if len(typed) > TEXT_LIMIT:
        await ui.send(update, t(member.language, "input.too_long", limit=TEXT_LIMIT))
        return state
    matches = provinces.match_provinces(typed)
    if len(matches) == 1:
        ui.note(context, t(member.language, "province.chosen", province=matches[0].name))
        return await _province_chosen(update, context, member, matches[0], state)
    await PICKERS[state].answer_typed(update, context, member.language, typed, matches, member.province_code)
    return state


async def _province_chosen(update: Update, context: BotContext, member: Member,
                           province: provinces.ProvinceInfo, state: str) -> str | int:
    if state == PROVINCE:
        await members.set_province(context.db, member, province.code)
        return await _after(update, context, member, PROVINCE)
    name = context.user_data.pop("workplace_name", None)
    if not name:
        return await ask_workplace(update, context, member)
    await members.set_unlisted_workplace(context.db, member, name, province.code)
    return await _after(update, context, member, WORKPLACE)


async def ask_sector(update: Update, context: BotContext, member: Member) -> str:
    items = [(sector.name(member.language), f"sector:{sector.code}") for sector in all_sectors()]
    rows = [items[i:i + 2] for i in range(0, len(items), 2)]
    await ui.present(update, context, t(member.language, "sector.ask"), ui.buttons(rows))
    return SECTOR


async def on_sector(update: Update, context: BotContext) -> str | int:
    query, member = update.callback_query, await current_member(update, context)
    sector = get_sector(query.data.removeprefix("sector:"))
    if sector is None:
        return await _stale(update, context, member, SECTOR)
    await members.set_sector(context.db, member, sector.code)
    ui.note(context, t(member.language, "sector.chosen", sector=sector.name(member.language)))
    return await _after(update, context, member, SECTOR)


async def ask_workplace(update: Update, context: BotContext, member: Member) -> str:
    prefill = context.user_data.get("prefill_workplace")
    workplace = await context.db.get(Workplace, prefill) if prefill else None
    if workplace is not None:
        rows = [[(t(member.language, "workplace.confirm_yes"), f"wp:{workplace.id}")],
                [(t(member.language, "workplace.confirm_no"), "wp:search")]]
        await ui.present(update, context, t(member.language, "workplace.confirm", workplace=escape(workplace.name)),
                         ui.buttons(rows))
        return WORKPLACE
    rows = [[(t(member.language, "workplace.not_listed"), "wp:other")]]
    await ui.present(update, context, t(member.language, "workplace.ask"), ui.buttons(rows))
    return WORKPLACE


async def on_workplace_text(update: Update, context: BotContext) -> str:
    member = await current_member(update, context)
    typed = nfc(update.effective_message.text)
    if len(typed) > TEXT_LIMIT:
        await ui.send(update, t(member.language, "input.too_long", limit=TEXT_LIMIT))
        return WORKPLACE
    found = await workplaces.search_workplaces(context.db, typed, member.province_code)
    rows = [[(_short(w.name), f"wp:{w.id}")] for w in found]
    rows.append([(t(member.language, "workplace.not_listed"), "wp:other")])
    key = "workplace.results" if found else "workplace.no_results"
    await ui.send(update, t(member.language, key, typed=escape(typed)), ui.buttons(rows))
    return WORKPLACE


async def on_workplace_button(update: Update, context: BotContext) -> str | int:
    query, member = update.callback_query, await current_member(update, context)
    choice = query.data.removeprefix("wp:")
    context.user_data.pop("prefill_workplace", None)
    if choice == "search":
        return await ask_workplace(update, context, member)
    if choice == "other":
        ui.note(context, t(member.language, "workplace.not_listed_chosen"))
        await ui.present(update, context, t(member.language, "workplace.ask_name"))
        return WORKPLACE_NAME
    workplace = await context.db.get(Workplace, int(choice)) if ui.is_id(choice) else None
    if workplace is None:
        return await _stale(update, context, member, WORKPLACE)
    await members.set_workplace(context.db, member, workplace)
    ui.note(context, t(member.language, "workplace.chosen", workplace=escape(workplace.name)))
    return await _after(update, context, member, WORKPLACE)


async def on_workplace_name(update: Update, context: BotContext) -> str:
    member = await current_member(update, context)
    name = nfc(update.effective_message.text)
    if len(name) > TEXT_LIMIT:
        await ui.send(update, t(member.language, "input.too_long", limit=TEXT_LIMIT))
        return WORKPLACE_NAME
    if len(name) < 2:
        await ui.send(update, t(member.language, "workplace.name_too_short"))
        return WORKPLACE_NAME
    context.user_data["workplace_name"] = name
    context.user_data["province_state"] = WORKPLACE_PROVINCE
    return await ask_province(update, context, member, 0, WORKPLACE_PROVINCE)


async def ask_membership(update: Update, context: BotContext, member: Member) -> str:
    rows = [[(t(member.language, "membership.member"), "union:member")],
            [(t(member.language, "membership.not_yet"), "union:not_yet")]]
    await ui.present(update, context, t(member.language, "membership.ask"), ui.buttons(rows))
    return MEMBERSHIP


async def on_membership(update: Update, context: BotContext) -> str | int:
    query, member = update.callback_query, await current_member(update, context)
    try:
        status = UnionStatus(query.data.removeprefix("union:"))
    except ValueError:
        return await _stale(update, context, member, MEMBERSHIP)
    await members.set_union_status(context.db, member, status)
    ui.note(context, t(member.language, f"membership.chosen_{status.value}"))
    return await _after(update, context, member, MEMBERSHIP)


# ----- settings -----

async def show_settings(update: Update, context: BotContext, member: Member) -> str:
    lang = member.language
    rows = [[(t(lang, "settings.language"), "set:language")]]
    if member.has_consent:
        rows += [[(t(lang, "settings.province"), "set:province"), (t(lang, "settings.sector"), "set:sector")],
                 [(t(lang, "settings.workplace"), "set:workplace"), (t(lang, "settings.union"), "set:union")],
                 [(t(lang, "settings.withdraw"), "set:consent")]]
        if member.union_status != UnionStatus.MEMBER:
            rows.append([(t(lang, "join.button"), joining.ASK)])
    else:
        rows.append([(t(lang, "settings.give_consent"), "set:consent")])
    rows.append([(t(lang, "settings.topics"), "bc:topics")])  # handlers/broadcast.py: news, quizzes, surveys
    rows += privacy.settings_rows(lang)  # /mydata and /forgetme (handlers/privacy.py)
    rows.append([(t(lang, "settings.close"), "set:close")])
    await ui.present(update, context, await _profile_summary(context, member), ui.buttons(rows))
    return SETTINGS


SETTINGS_FIELDS = ("close", "consent", "language", "province", "sector", "workplace", "union")


async def on_settings_button(update: Update, context: BotContext) -> str | int | None:
    query, member = update.callback_query, await current_member(update, context)
    field = query.data.removeprefix("set:")
    if field not in SETTINGS_FIELDS:
        await ui.alert(update, context, t(member.language, "input.stale_button"))
        return None  # forged: stay wherever the conversation was
    context.user_data["flow"] = SETTINGS_FLOW
    if field == "close":
        ui.note(context, t(member.language, "settings.closed"))
        await ui.present(update, context, t(member.language, "menu.title"), ui.main_menu(member.language))
        return END
    if field == "consent":
        return await (ask_withdraw if member.has_consent else ask_consent)(update, context, member)
    if field == "language":
        return await ask_language(update, context, member)
    if not member.has_consent:
        await ui.alert(update, context, t(member.language, "consent.required"))
        return SETTINGS
    askers = {"province": _ask_own_province, "sector": ask_sector, "workplace": ask_workplace,
              "union": ask_membership}
    return await askers[field](update, context, member)


async def _ask_own_province(update: Update, context: BotContext, member: Member) -> str:
    context.user_data["province_state"] = PROVINCE
    return await ask_province(update, context, member)


# ----- flow control -----

async def _after(update: Update, context: BotContext, member: Member, step: str) -> str | int:
    """What follows a completed step: the next onboarding question, or the settings screen."""
    if context.user_data.get("flow") != ONBOARDING:
        if step == LANGUAGE and members.needs_consent(member) and member.onboarded_at is None:
            return await ask_consent(update, context, member)
        return await show_settings(update, context, member)
    for following in ONBOARDING_ORDER[ONBOARDING_ORDER.index(step) + 1:]:
        if following == CONSENT and not members.needs_consent(member):
            continue
        return await _ask(following, update, context, member)
    await members.finish_onboarding(context.db, member)
    context.user_data.clear()
    summary = await _profile_summary(context, member)
    await ui.present(update, context, t(member.language, "onboarding.done") + "\n\n" + summary,
                     ui.main_menu(member.language))
    if member.union_status == UnionStatus.NOT_YET:
        await ui.send(update, t(member.language, "join.onboarding_offer"), joining.join_button(member.language))
    return END


async def _ask(step: str, update: Update, context: BotContext, member: Member) -> str:
    if step == PROVINCE:
        return await _ask_own_province(update, context, member)
    askers = {LANGUAGE: ask_language, CONSENT: ask_consent, SECTOR: ask_sector, WORKPLACE: ask_workplace,
              MEMBERSHIP: ask_membership}
    return await askers[step](update, context, member)


async def _stale(update: Update, context: BotContext, member: Member | None, state: str) -> str:
    """A button from an earlier message, or forged data: say so and ask the current question again."""
    lang = member.language if member else "vi"
    if update.callback_query:
        await ui.alert(update, context, t(lang, "input.stale_button"))
    if member is not None:
        await _reprompt(update, context, member, state)
    return state


async def _reprompt(update: Update, context: BotContext, member: Member, state: str) -> None:
    if state == WORKPLACE_NAME:
        await ui.present(update, context, t(member.language, "workplace.ask_name"))
    elif state == WORKPLACE_PROVINCE:
        await ask_province(update, context, member, 0, WORKPLACE_PROVINCE)
    elif state == SETTINGS:
        await show_settings(update, context, member)
    elif state == CONSENT and member.has_consent:
        await ask_withdraw(update, context, member)
    else:
        await _ask(state, update, context, member)


def _wrong_input(state: str):  # type: ignore[no-untyped-def]
    async def reply(update: Update, context: BotContext) -> str:
        member = await current_member(update, context)
        if member is None:
            return state
        if update.callback_query:
            return await _stale(update, context, member, state)
        ui.note(context, t(member.language, _hint_for(state)))
        await _reprompt(update, context, member, state)
        return state

    return reply


def _hint_for(state: str) -> str:
    return {PROVINCE: "input.type_or_press", WORKPLACE: "input.type_or_press",
            WORKPLACE_PROVINCE: "input.type_or_press", WORKPLACE_NAME: "input.text_only"}.get(
        state, "input.press_button")


async def _profile_summary(context: BotContext, member: Member) -> str:
    lang = member.language
    lines = [t(lang, "profile.title"), t(lang, "profile.language", value=t(lang, "language.name"))]
    if not member.has_consent:
        return "\n".join([*lines, t(lang, "profile.no_consent")])
    province = provinces.get_province(member.province_code) if member.province_code else None
    sector = get_sector(member.sector)
    workplace = await members.load_workplace(context.db, member)
    workplace_name = workplace.name if workplace else member.workplace_other_name
    unknown = t(lang, "profile.unset")
    status = t(lang, f"membership.status_{member.union_status.value}") if member.union_status else unknown
    lines += [
        t(lang, "profile.province", value=escape(province.name) if province else unknown),
        t(lang, "profile.sector", value=escape(sector.name(lang)) if sector else unknown),
        t(lang, "profile.workplace", value=escape(workplace_name) if workplace_name else unknown),
        t(lang, "profile.union", value=status),
    ]
    return "\n".join(lines)


def _display_name(member: Member) -> str:
    return escape(member.first_name or "")


def _short(name: str, limit: int = 60) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


# ----- wiring -----

def conversation(fallbacks: list[BaseHandler]) -> ConversationHandler:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE  # edits are not new answers
    text = filters.TEXT & ~filters.COMMAND & private

    def with_catch_all(state: str, handlers: list[BaseHandler]) -> list[BaseHandler]:  # type: ignore[type-arg]
        catch = _wrong_input(state)
        return [*handlers, CallbackQueryHandler(catch), MessageHandler(private & ~filters.COMMAND, catch)]

    states = {
        LANGUAGE: [CallbackQueryHandler(on_language, pattern=r"^lang:")],
        CONSENT: [CallbackQueryHandler(on_withdraw, pattern=r"^consent:(withdraw|keep)$"),
                  CallbackQueryHandler(on_consent, pattern=r"^consent:")],
        PROVINCE: [CallbackQueryHandler(on_province_page, pattern=PICKERS[PROVINCE].page_pattern),
                   CallbackQueryHandler(on_province_button, pattern=PICKERS[PROVINCE].choose_pattern),
                   MessageHandler(text, on_province_text)],
        SECTOR: [CallbackQueryHandler(on_sector, pattern=r"^sector:")],
        WORKPLACE: [CallbackQueryHandler(on_workplace_button, pattern=r"^wp:"),
                    MessageHandler(text, on_workplace_text)],
        WORKPLACE_NAME: [MessageHandler(text, on_workplace_name)],
        WORKPLACE_PROVINCE: [CallbackQueryHandler(on_province_page, pattern=PICKERS[WORKPLACE_PROVINCE].page_pattern),
                             CallbackQueryHandler(on_province_button,
                                                  pattern=PICKERS[WORKPLACE_PROVINCE].choose_pattern),
                             MessageHandler(text, on_province_text)],
        MEMBERSHIP: [CallbackQueryHandler(on_membership, pattern=r"^union:")],
        SETTINGS: [CallbackQueryHandler(on_settings_button, pattern=r"^set:")],
    }
    with warnings.catch_warnings():
        # Buttons here are tracked per user and chat on purpose (one profile conversation per person);
        # PTB warns about per_message=False whenever a CallbackQueryHandler is involved.
        warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)
        return ConversationHandler(
            entry_points=[
                CommandHandler("start", start, filters=private),
                CommandHandler("settings", open_settings, filters=private),
                MessageHandler(filters.Text(ui.menu_labels("menu.settings")) & private, open_settings),
                CallbackQueryHandler(on_settings_button, pattern=r"^set:"),
            ],
            states={state: with_catch_all(state, handlers) for state, handlers in states.items()},
            fallbacks=fallbacks,
            name="profile",
            persistent=True,
            allow_reentry=True,
        )
