import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "WEBHOOK_LISTEN",
                 "ADMIN_IDS", "TZ_NAME", "BROADCAST_RATE", "PAID_BROADCAST"):
        monkeypatch.delenv(name, raising=False)


def load(**env):
    return load_settings(env_file=None, **env)


def test_defaults():
    settings = load()
    assert settings.bot_token is None
    assert settings.database_url == "sqlite+aiosqlite:///data/congdoan.db"
    assert settings.telegram_api_url == "https://api.telegram.org/bot"
    assert settings.telegram_file_url == "https://api.telegram.org/file/bot"
    assert settings.tz_name == "Asia/Ho_Chi_Minh"
    assert settings.broadcast_rate == 25
    assert settings.admin_ids == []


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("ADMIN_IDS", "11, 22,33")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9000/bot")
    monkeypatch.setenv("PAID_BROADCAST", "1")
    monkeypatch.setenv("BROADCAST_RATE", "500")
    settings = load()
    assert settings.admin_ids == [11, 22, 33]
    assert settings.telegram_file_url == "http://127.0.0.1:9000/file/bot"
    assert settings.max_broadcast_rate == 1000


@pytest.mark.parametrize(("name", "value"), [
    ("BOT_TOKEN", "not-a-token"),
    ("DATABASE_URL", "mysql://x"),
    ("ADMIN_IDS", "12,abc"),
    ("TZ_NAME", "Mars/Olympus"),
    ("BROADCAST_RATE", "45"),
    ("BROADCAST_RATE", "-1"),
    ("WEBHOOK_LISTEN", "nowhere"),
])
def test_bad_values_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load()
    message = str(error.value)
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_webhook_needs_https_and_a_secret(monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/hook")
    with pytest.raises(ConfigError, match="^WEBHOOK_SECRET:"):
        load()
    monkeypatch.setenv("WEBHOOK_SECRET", "has spaces")
    with pytest.raises(ConfigError, match="^WEBHOOK_SECRET:"):
        load()
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret_-")
    assert load().webhook_url == "https://bot.example.org/hook"
    monkeypatch.setenv("WEBHOOK_URL", "http://bot.example.org/hook")
    with pytest.raises(ConfigError, match="^WEBHOOK_URL:"):
        load()
