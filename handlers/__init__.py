"""Telegram I/O only: each module reads updates, calls bot.services, and renders replies."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers import errors, fallbacks, inbox, menu, officer_actions, profile, ui

if TYPE_CHECKING:
    from telegram.ext import Application

# Commands offered in the private chat, in the order Telegram's menu shows them.
PRIVATE_COMMANDS = ("start", "menu", "report", "mycases", "settings", "help", "cancel")


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    groups = filters.ChatType.GROUPS & filters.UpdateType.MESSAGE
    common = [
        CommandHandler("menu", menu.show_menu, filters=private),
        MessageHandler(filters.Text(ui.menu_labels("menu.help")) & private, menu.show_help),
        CommandHandler("help", menu.show_help, filters=private),
        CommandHandler("cancel", menu.cancel, filters=private),
    ]
    application.add_handler(profile.conversation(fallbacks=common))
    for handler in common:
        application.add_handler(handler)
    application.add_handler(CommandHandler("inbox", inbox.register, filters=groups))
    application.add_handler(CallbackQueryHandler(inbox.picked, pattern=r"^inbox:"))
    application.add_handler(CallbackQueryHandler(officer_actions.on_claim, pattern=r"^case:claim:"))
    application.add_handler(MessageHandler(groups & filters.REPLY & filters.TEXT & ~filters.COMMAND,
                                           officer_actions.on_reply_to_card))
    application.add_handler(MessageHandler(filters.COMMAND & groups, fallbacks.command_in_group))
    application.add_handler(MessageHandler(filters.COMMAND & private, fallbacks.unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & private, fallbacks.unknown_text))
    application.add_handler(MessageHandler(private, fallbacks.unexpected_media))
    application.add_handler(CallbackQueryHandler(fallbacks.stale_button))
    application.add_error_handler(errors.on_error)
