"""Telegram I/O only: each module reads updates, calls bot.services, and renders replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import (
    admin,
    admin_contests,
    admin_units,
    broadcast,
    chat_members,
    consultations,
    engagement,
    errors,
    examples,
    fallbacks,
    ideas,
    inbox,
    intake,
    joining,
    learn,
    limits,
    menu,
    officer_actions,
    officer_cases,
    privacy,
    profile,
    quiz,
    recognition,
    reports,
    survey,
    survey_builder,
    ui,
    worker_cases,
)

if TYPE_CHECKING:
    from telegram.ext import Application

# Commands offered in the private chat, in the order Telegram's menu shows them.
PRIVATE_COMMANDS = ("start", "menu", "learn", "quiz", "report", "mycases", "idea", "nominate", "gopy", "survey",
                    "settings", "mydata", "forgetme", "help", "cancel")


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    groups = filters.ChatType.GROUPS & filters.UpdateType.MESSAGE
    common = [
        CommandHandler("menu", menu.show_menu, filters=private),
        MessageHandler(filters.Text(ui.menu_labels("menu.help")) & private, menu.show_help),
        CommandHandler("help", menu.show_help, filters=private),
        CommandHandler("cancel", menu.cancel, filters=private),
    ]
    for handler in broadcast.handlers():  # /broadcast, its draft's typed input, stop buttons, topic settings
        application.add_handler(handler, group=-6)
    for handler in limits.handlers():  # muted accounts and bursts stop here, before anything else
        application.add_handler(handler, group=limits.GATE_GROUP)
    # The units section of /admin and its typed unit search (only while one is awaited): they stop what they handle.
    for handler in admin_units.handlers():
        application.add_handler(handler, group=-8)
    # /mydata, /forgetme, the bot leaving a group: they stop what they handle.
    for handler in [*privacy.handlers(), *chat_members.handlers()]:
        application.add_handler(handler, group=-7)
    for handler in survey.handlers():  # /survey, its buttons, and a typed answer while one is awaited
        application.add_handler(handler, group=-5)
    for handler in survey_builder.handlers():  # the survey builder of /admin: its buttons and typed steps
        application.add_handler(handler, group=-9)
    for handler in quiz.handlers():  # quizzes and contests, and the typed tiebreak number
        application.add_handler(handler, group=-4)
    # Joining, ideas, nominations, consultations: each handler stops the update when it acts.
    for handler in _engagement_handlers():
        application.add_handler(handler, group=-3)
    # An officer's pending text (after pressing Reply, Note… in the private chat) comes before everything.
    application.add_handler(MessageHandler(private & ~filters.COMMAND, officer_actions.on_private_message), group=-2)
    application.add_handler(MessageHandler(private & filters.COMMAND, officer_actions.on_private_command), group=-2)
    for handler in worker_cases.handlers():  # ahead of conversations; they stop the update when they act
        application.add_handler(handler, group=-1)
    application.add_handler(intake.conversation(fallbacks=common))  # before profile: first match wins
    application.add_handler(profile.conversation(fallbacks=common))
    for handler in common:
        application.add_handler(handler)
    application.add_handler(CommandHandler("learn", learn.show_topics, filters=private))
    application.add_handler(MessageHandler(filters.Text(ui.menu_labels("menu.learn")) & private, learn.show_topics))
    application.add_handler(CallbackQueryHandler(learn.on_button, pattern=r"^learn:"))
    application.add_handler(CommandHandler("inbox", inbox.register, filters=groups))
    application.add_handler(CallbackQueryHandler(inbox.picked, pattern=r"^inbox:"))
    application.add_handler(CallbackQueryHandler(officer_actions.on_card_button, pattern=r"^case:"))
    application.add_handler(MessageHandler(groups & filters.REPLY & ~filters.COMMAND, officer_actions.on_reply_in_group))
    application.add_handler(CommandHandler("cases", officer_cases.show_queues, filters=private))
    application.add_handler(CommandHandler("case", officer_cases.show_case, filters=private))
    application.add_handler(CallbackQueryHandler(officer_cases.on_button, pattern=r"^cases:"))
    application.add_handler(CommandHandler("admin", admin.show_hub, filters=private))
    for handler in admin_contests.handlers():
        application.add_handler(handler)
    for handler in reports.handlers():  # /reports and the reports section of /admin
        application.add_handler(handler)
    application.add_handler(MessageHandler(filters.COMMAND & groups, fallbacks.command_in_group))
    application.add_handler(MessageHandler(filters.COMMAND & private, fallbacks.unknown_command))
    # Typed words outside any conversation search the library and the FAQ; menu labels are not searches.
    menu_labels = filters.Text([label for key, _ in ui.MAIN_MENU for label in ui.menu_labels(key)])
    application.add_handler(MessageHandler(filters.TEXT & private & ~menu_labels, learn.search_text))
    application.add_handler(MessageHandler(filters.TEXT & private, fallbacks.unknown_text))
    application.add_handler(MessageHandler(private, fallbacks.unexpected_media))
    application.add_handler(CallbackQueryHandler(fallbacks.stale_button))
    application.add_error_handler(errors.on_error)


def _engagement_handlers() -> list:  # type: ignore[type-arg]
    """Group -3 (one handler per group and update): the features' commands and buttons, then one handler
    for messages they wait for (an officer's answer to a prompt, the next step of a draft)."""
    return [*joining.handlers(), *ideas.handlers(), *examples.handlers(), *consultations.handlers(),
            *recognition.handlers(),
            MessageHandler(filters.UpdateType.MESSAGE, engagement.on_any_message)]
