"""Telegram I/O only: each module reads updates, calls bot.services, and renders replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import (
    errors,
    fallbacks,
    inbox,
    intake,
    menu,
    officer_actions,
    officer_cases,
    profile,
    ui,
    worker_cases,
)

if TYPE_CHECKING:
    from telegram.ext import Application

# Commands offered in the private chat, in the order Telegram's menu shows them.
PRIVATE_COMMANDS = ("start", "menu", "learn", "quiz", "report", "mycases", "settings", "help", "cancel")


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    groups = filters.ChatType.GROUPS & filters.UpdateType.MESSAGE
    common = [
        CommandHandler("menu", menu.show_menu, filters=private),
        MessageHandler(filters.Text(ui.menu_labels("menu.help")) & private, menu.show_help),
        CommandHandler("help", menu.show_help, filters=private),
        CommandHandler("cancel", menu.cancel, filters=private),
    ]
    # An officer's pending text (after pressing Reply, Note… in the private chat) comes before everything.
    application.add_handler(MessageHandler(private & ~filters.COMMAND, officer_actions.on_private_message), group=-2)
    application.add_handler(MessageHandler(private & filters.COMMAND, officer_actions.on_private_command), group=-2)
    for handler in worker_cases.handlers():  # ahead of conversations; they stop the update when they act
        application.add_handler(handler, group=-1)
    application.add_handler(intake.conversation(fallbacks=common))  # before profile: first match wins
    application.add_handler(profile.conversation(fallbacks=common))
    for handler in common:
        application.add_handler(handler)
    application.add_handler(CommandHandler("inbox", inbox.register, filters=groups))
    application.add_handler(CallbackQueryHandler(inbox.picked, pattern=r"^inbox:"))
    application.add_handler(CallbackQueryHandler(officer_actions.on_card_button, pattern=r"^case:"))
    application.add_handler(MessageHandler(groups & filters.REPLY & ~filters.COMMAND, officer_actions.on_reply_in_group))
    application.add_handler(CommandHandler("cases", officer_cases.show_queues, filters=private))
    application.add_handler(CommandHandler("case", officer_cases.show_case, filters=private))
    application.add_handler(CallbackQueryHandler(officer_cases.on_button, pattern=r"^cases:"))
    application.add_handler(MessageHandler(filters.COMMAND & groups, fallbacks.command_in_group))
    application.add_handler(MessageHandler(filters.COMMAND & private, fallbacks.unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & private, fallbacks.unknown_text))
    application.add_handler(MessageHandler(private, fallbacks.unexpected_media))
    application.add_handler(CallbackQueryHandler(fallbacks.stale_button))
    application.add_error_handler(errors.on_error)
