"""The sandbox: a Bot API emulator (and, later, the browser chat page) for running the bot without Telegram."""
