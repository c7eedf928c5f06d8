"""The sandbox: a Bot API emulator, the browser chat page (sandbox/web/) and their assembly (sandbox/app.py), for
running the real bot without Telegram."""
