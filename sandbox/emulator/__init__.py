"""A Bot API emulator that the real python-telegram-bot Application runs against, over HTTP."""

from sandbox.emulator.server import BotApiEmulator, NoMessage
from sandbox.emulator.state import EmulatorChat, EmulatorUser

__all__ = ["BotApiEmulator", "EmulatorChat", "EmulatorUser", "NoMessage"]
