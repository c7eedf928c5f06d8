"""Settings read once from the environment (and `.env`); see ARCHITECTURE.md, "Configuration"."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_API_URL = "https://api.telegram.org/bot"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ConfigError(Exception):
    """A bad or missing setting; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str | None = None
    database_url: str = "sqlite+aiosqlite:///data/congdoan.db"
    telegram_api_url: str = DEFAULT_API_URL
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "0.0.0.0:8443"
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    tz_name: str = "Asia/Ho_Chi_Minh"
    broadcast_rate: float = 25.0
    paid_broadcast: bool = False
    retention_days: int = 730  # personal data of cases closed longer ago is erased (Law 91/2025)
    cases_per_day: int = 5  # new cases a member may raise per day (Asia/Ho_Chi_Minh)

    @field_validator("bot_token", "webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value is not None and (":" not in value or not value.split(":", 1)[0].isdigit()):
            raise ValueError("expected the form 123456789:ABC… given by @BotFather")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
            if not all(part.lstrip("-").isdigit() for part in parts):
                raise ValueError("expected comma-separated numeric Telegram user ids, e.g. 12345,67890")
            return [int(part) for part in parts]
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("tz_name")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://user:pass@host/db")
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 0.0.0.0:8443")
        return value

    @field_validator("broadcast_rate")
    @classmethod
    def _positive_rate(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive number of messages per second")
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention_floor(cls, value: int) -> int:
        if value < 30:
            raise ValueError("must be at least 30 days (cases need time to close and be checked)")
        return value

    @field_validator("cases_per_day")
    @classmethod
    def _positive_limit(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    @property
    def telegram_file_url(self) -> str:
        """The file URL follows the API URL: `…/bot` becomes `…/file/bot`."""
        base = self.telegram_api_url.rstrip("/")
        head, _, tail = base.rpartition("/")
        return f"{head}/file/{tail}"

    @property
    def webhook_host(self) -> str:
        return self.webhook_listen.rpartition(":")[0]

    @property
    def webhook_port(self) -> int:
        return int(self.webhook_listen.rpartition(":")[2])

    @property
    def max_broadcast_rate(self) -> float:
        return 1000.0 if self.paid_broadcast else 30.0


def load_settings(env_file: str | None = ".env", **overrides: object) -> Settings:
    """Read the settings, turning validation errors into one line that names the variable."""
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None
    if settings.broadcast_rate > settings.max_broadcast_rate:
        raise ConfigError(
            f"BROADCAST_RATE: {settings.broadcast_rate:g}/s is above Telegram's limit of "
            f"{settings.max_broadcast_rate:g}/s (set PAID_BROADCAST=1 for up to 1000/s)"
        )
    if settings.webhook_url and not settings.webhook_secret:
        raise ConfigError("WEBHOOK_SECRET: required when WEBHOOK_URL is set (1-256 of A-Z a-z 0-9 _ -)")
    if settings.webhook_secret and not _SECRET.fullmatch(settings.webhook_secret):
        raise ConfigError("WEBHOOK_SECRET: use 1-256 characters of A-Z a-z 0-9 _ - (Telegram's rule)")
    if settings.webhook_url and not settings.webhook_url.startswith("https://") and not _is_loopback(
        settings.webhook_url
    ):
        raise ConfigError("WEBHOOK_URL: Telegram only delivers webhooks to https:// addresses")
    return settings


def _is_loopback(url: str) -> bool:
    return url.startswith(("http://127.", "http://localhost", "http://[::1]"))
