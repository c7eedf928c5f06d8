"""/learn and the 📚 menu button: topics → articles (paged) → the article in parts; typed words search the
library and the FAQ; a FAQ answer asks whether it helped. Also the legal answers offered before a report is
sent (called from handlers/intake.py).

Callback data: learn:topics · learn:t:<topic>:<page> · learn:a:<slug>:<part> · learn:f:<faq id> ·
learn:fb:<feedback row>:<1|0> · learn:s:<approved story id>; in the report flow rep:faq:<feedback row>. quiz:practice:<quiz slug> belongs
to the quiz feature.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update

from bot.i18n import t
from bot.services import examples, faq, library, search
from bot.text import escape, nfc
from db.models import Member
from handlers import fallbacks, ui
from handlers.context import BotContext, current_member, language_of

log = logging.getLogger(__name__)

ARTICLES_PER_PAGE = 8
RESULTS = 8
INTAKE_ANSWERS = 3
BUTTON_TEXT = 60
QUERY_ECHO = 80
GOOD_EXAMPLES = "good_examples"


# ----- browsing -----

async def show_topics(update: Update, context: BotContext) -> None:
    """/learn, the 📚 menu button and « Topics."""
    language = await language_of(update, context)
    rows = [[(t(language, "learn.topic_button", name=topic.name(language),
                count=len(library.articles_in(topic.code, language))), f"learn:t:{topic.code}:0")]
            for topic in library.topics()]
    await ui.present(update, context, t(language, "learn.topics_title"), ui.buttons(rows))


async def on_button(update: Update, context: BotContext) -> None:
    language = await language_of(update, context)
    parts = update.callback_query.data.split(":")
    action, arguments = (parts[1], parts[2:]) if len(parts) > 1 else ("", [])
    handler = {"topics": _on_topics, "t": _on_topic, "a": _on_article, "f": _on_faq, "fb": _on_feedback,
               "s": _on_story}.get(action)
    if handler is None or not await handler(update, context, language, arguments):
        await ui.alert(update, context, t(language, "input.stale_button"))


async def _on_topics(update: Update, context: BotContext, language: str, arguments: list[str]) -> bool:
    await show_topics(update, context)
    return True


async def _on_topic(update: Update, context: BotContext, language: str, arguments: list[str]) -> bool:
    if len(arguments) != 2 or not ui.is_id(arguments[1]):
        return False
    topic = library.get_topic(arguments[0])
    if topic is None:
        return False
    articles = library.articles_in(topic.code, language)
    items = [(_short(t(language, "learn.article_button", title=article.title)), f"learn:a:{article.slug}:0")
             for article in articles]
    if topic.code == GOOD_EXAMPLES:  # stories members nominated and officers approved, newest first
        items += [(_short(t(language, "learn.story_button", nominee=story.nominee)), f"learn:s:{story.id}")
                  for story in await examples.approved_stories(context.db, language)]
    name, description = escape(topic.name(language)), escape(topic.description(language))
    if not items:
        text = t(language, "learn.topic_empty", name=name, description=description)
        await ui.present(update, context, text, ui.buttons([[(t(language, "learn.back_topics"), "learn:topics")]]))
        return True
    rows = ui.paged(items, int(arguments[1]), ARTICLES_PER_PAGE, f"learn:t:{topic.code}:", language, columns=1)
    rows.append([(t(language, "learn.back_topics"), "learn:topics")])
    text = t(language, "learn.topic_articles", name=name, description=description)
    await ui.present(update, context, text, ui.buttons(rows))
    return True


async def _on_article(update: Update, context: BotContext, language: str, arguments: list[str]) -> bool:
    if len(arguments) != 2 or not ui.is_id(arguments[1]):
        return False
    article = library.get_article(arguments[0], language)
    index = int(arguments[1])
    if article is None or index >= len(article.parts):
        return False
    await ui.acknowledge(update, context)
    await ui.send(update, library.part_text(article, index), ui.buttons(_article_rows(article, index, language)))
    return True


async def _on_story(update: Update, context: BotContext, language: str, arguments: list[str]) -> bool:
    """An approved good example: the nominee, the story and the unit that approved it (never the nominator)."""
    if len(arguments) != 1 or not ui.is_id(arguments[0]):
        return False
    story = await examples.approved_story(context.db, int(arguments[0]))
    if story is None:
        return False
    await ui.acknowledge(update, context)
    text = t(language, "learn.story", nominee=escape(story.nominee), story=escape(story.story),
             unit=escape(story.unit_name or "—"), date=story.approved_at.astimezone(context.settings.tz).strftime("%d/%m/%Y"))
    back = ui.buttons([[(t(language, "learn.back_examples"), f"learn:t:{GOOD_EXAMPLES}:0")]])
    if story.photo_file_id:
        await update.effective_chat.send_photo(story.photo_file_id)
    await ui.send(update, text, back)
    return True


def _article_rows(article: library.Article, index: int, language: str) -> list[list[tuple[str, str]]]:
    """"Next part" while there is one; after the last part: related articles, the quiz, back to the topic."""
    total = len(article.parts)
    if index < total - 1:
        return [[(t(language, "learn.next_part", number=index + 2, total=total),
                  f"learn:a:{article.slug}:{index + 1}")]]
    rows = []
    for slug in article.related:
        related = library.get_article(slug, language)
        if related is not None:
            rows.append([(_short(t(language, "learn.related_button", title=related.title)), f"learn:a:{slug}:0")])
    if article.quiz:
        rows.append([(t(language, "learn.test_yourself"), f"quiz:practice:{article.quiz}")])
    topic = library.get_topic(article.topic)
    if topic is not None:
        rows.append([(_short(t(language, "learn.back_topic", name=topic.name(language))), f"learn:t:{topic.code}:0")])
    return rows


# ----- search and legal answers -----

async def search_text(update: Update, context: BotContext) -> None:
    """Typed text outside any conversation: the best articles and answers as buttons."""
    language = await language_of(update, context)
    query = nfc(update.effective_message.text or "")
    hits = search.search(query, language, limit=RESULTS)
    if not hits:
        await fallbacks.unknown_text(update, context)
        return
    rows = [[(_result_label(hit, language), _result_data(hit))] for hit in hits]
    rows.append([(t(language, "learn.back_topics"), "learn:topics")])
    echo = query if len(query) <= QUERY_ECHO else query[:QUERY_ECHO - 1] + "…"
    await ui.send(update, t(language, "learn.search_results", query=escape(echo)), ui.buttons(rows))


def _result_label(hit: search.SearchHit, language: str) -> str:
    if hit.kind == search.ARTICLE:
        article = library.get_article(hit.key, language)
        return _short(t(language, "learn.article_button", title=article.title if article else hit.key))
    entry = faq.get(hit.key)
    return _short(t(language, "learn.faq_button", question=entry.question(language) if entry else hit.key))


def _result_data(hit: search.SearchHit) -> str:
    return f"learn:a:{hit.key}:0" if hit.kind == search.ARTICLE else f"learn:f:{hit.key}"


async def _on_faq(update: Update, context: BotContext, language: str, arguments: list[str]) -> bool:
    entry = faq.get(arguments[0]) if len(arguments) == 1 else None
    member = await current_member(update, context)
    if entry is None or member is None:
        return False
    [row_id] = await faq.record_shown(context.db, member.id, [("faq", entry.id)], "search")
    await ui.acknowledge(update, context)
    rows = [[(t(language, "learn.faq_yes"), f"learn:fb:{row_id}:1"), (t(language, "learn.faq_no"), f"learn:fb:{row_id}:0")]]
    rows += _read_more(entry, language)
    text = f"{faq.render_answer(entry, language)}\n\n{t(language, 'learn.faq_did_it_help')}"
    await ui.send(update, text, ui.buttons(rows))
    return True


async def _on_feedback(update: Update, context: BotContext, language: str, arguments: list[str]) -> bool:
    member = await current_member(update, context)
    if member is None or len(arguments) != 2 or not ui.is_id(arguments[0]) or arguments[1] not in ("0", "1"):
        return False
    helped = arguments[1] == "1"
    row = await faq.record_helped(context.db, int(arguments[0]), member.id, helped)  # commits
    entry = faq.get(row.item_slug) if row is not None and row.item_kind == "faq" else None
    if entry is None:
        return False
    thanks = t(language, "learn.faq_thanks_yes") if helped else \
        t(language, "learn.faq_thanks_no", report=t(language, "menu.report"))
    text = f"{faq.render_answer(entry, language)}\n\n{thanks}"
    await ui.present(update, context, text, ui.buttons(_read_more(entry, language)))
    return True


def _read_more(entry: faq.FaqEntry, language: str) -> list[list[tuple[str, str]]]:
    article = library.get_article(entry.article, language) if entry.article else None
    if article is None:
        return []
    return [[(_short(t(language, "learn.read_article", title=article.title)), f"learn:a:{article.slug}:0")]]


# ----- before a report is sent (handlers/intake.py) -----

async def offer_answers(update: Update, context: BotContext, member: Member, draft: dict[str, Any]) -> bool:
    """Once per draft: up to 3 answers that fit the description, with "continue" one tap away.
    Returns False when there is nothing to offer (the report goes straight on)."""
    if draft.get("faq_offered") or not draft.get("text"):
        return False
    draft["faq_offered"] = True
    entries = faq.match(draft["text"], member.language, limit=INTAKE_ANSWERS)
    if not entries:
        return False
    draft["faq_rows"] = await faq.record_shown(context.db, member.id, [("faq", entry.id) for entry in entries],
                                               "intake")
    log.info("member %s: %d answer(s) offered before a report", member.id, len(entries))
    language = member.language
    rows = [[(t(language, "learn.intake_helped", number=number), f"rep:faq:{row_id}")]
            for number, row_id in enumerate(draft["faq_rows"], 1)]
    rows.append([(t(language, "learn.intake_continue"), "rep:submit")])
    await ui.present(update, context, _offer_text(language, entries), ui.buttons(rows))
    return True


async def on_intake_helped(update: Update, context: BotContext) -> None:
    """"Answer n helped me": recorded; then stop here (the draft is discarded) or continue. Stays in the step."""
    member = await current_member(update, context)
    draft = context.user_data.get("intake") or {}
    row_id = int(update.callback_query.data.removeprefix("rep:faq:"))
    if member is None or row_id not in (draft.get("faq_rows") or []):
        await ui.alert(update, context, t(member.language if member else "vi", "input.stale_button"))
        return
    await faq.record_helped(context.db, row_id, member.id, True)  # commits
    rows = await faq.shown_rows(context.db, draft["faq_rows"], member.id)
    entries = [entry for row in rows if (entry := faq.get(row.item_slug)) is not None]
    language = member.language
    text = f"{_offer_text(language, entries)}\n\n{t(language, 'learn.intake_glad')}"
    buttons = [[(t(language, "learn.intake_stop"), "rep:cancel")], [(t(language, "learn.intake_continue"), "rep:submit")]]
    await ui.present(update, context, text, ui.buttons(buttons))


def _offer_text(language: str, entries: list[faq.FaqEntry]) -> str:
    answers = "\n\n".join(t(language, "learn.intake_offer_item", number=number, answer=faq.render_answer(entry, language))
                          for number, entry in enumerate(entries, 1))
    return t(language, "learn.intake_offer", answers=answers)


def _short(text: str, limit: int = BUTTON_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
