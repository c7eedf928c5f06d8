"""The `congdoan` command as an operator runs it: a real subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys

from bot import CONTENT_DIR, REPO_ROOT


def congdoan(*args: str, db_url: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "WEBHOOK_URL", "DATABASE_URL")}
    if db_url:
        environment["DATABASE_URL"] = db_url
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=environment, timeout=120)


async def test_run_without_token_starts_the_sandbox(tmp_path):
    """`make run` on a fresh machine: no BOT_TOKEN, so `congdoan run` starts the sandbox, prints its address
    and what to do first, serves the page with the demo personas, and stops cleanly on SIGTERM."""
    import asyncio
    import json
    import signal
    import socket
    import urllib.request

    with socket.socket() as probe:  # a free port for the page
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("BOT_TOKEN", "WEBHOOK_URL", "DATABASE_URL", "ADMIN_IDS")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--port", str(port), cwd=tmp_path, env=environment,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    lines: list[str] = []
    try:
        while not any("http://" in line for line in lines):
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, f"exited early: {(await process.stderr.read()).decode()[-2000:]}"
            lines.append(line.decode())
        address = f"http://127.0.0.1:{port}"
        assert any(address in line for line in lines)
        lines.append((await asyncio.wait_for(process.stdout.readline(), 10)).decode())
        assert "/report" in lines[-1]  # one line on what to do first

        def get(path: str) -> bytes:
            with urllib.request.urlopen(address + path, timeout=10) as response:
                return response.read()

        page, state = await asyncio.gather(asyncio.to_thread(get, "/"), asyncio.to_thread(get, "/api/state"))
        assert b"<title>" in page
        assert [p["key"] for p in json.loads(state)["personas"]] == [
            "worker", "newcomer", "grassroots", "park", "admin"]
        assert (tmp_path / "data" / "sandbox.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr


def test_bad_setting_stops_with_one_line_naming_it():
    result = congdoan("db", "upgrade", ADMIN_IDS="12,abc")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "ADMIN_IDS" in result.stderr


def test_content_check_passes_on_shipped_content():
    result = congdoan("content", "check")
    assert result.returncode == 0, result.stderr


def test_units_import_admin_add_and_officer_invite(db_url):
    imported = congdoan("units", "import", str(CONTENT_DIR / "demo" / "units.csv"), db_url=db_url)
    assert imported.returncode == 0, imported.stderr
    assert "created" in imported.stdout
    again = congdoan("units", "import", str(CONTENT_DIR / "demo" / "units.csv"), db_url=db_url)
    assert "0 created" in again.stdout

    added = congdoan("admin", "add", "123456", db_url=db_url)
    assert added.returncode == 0 and "now" in added.stdout
    assert "already" in congdoan("admin", "add", "123456", db_url=db_url).stdout

    from tests.support.harness import DEMO

    invite = congdoan("officer", "invite", DEMO["grassroots_unit"], "--bot-username", "cd_bot", db_url=db_url)
    assert invite.returncode == 0, invite.stderr
    link = invite.stdout.strip().splitlines()[-1]
    assert link.startswith("https://t.me/cd_bot?start=officer-")
    unknown = congdoan("officer", "invite", "NO-SUCH-UNIT", "--bot-username", "cd_bot", db_url=db_url)
    assert unknown.returncode == 1


def test_units_import_reports_bad_lines_and_imports_nothing(db_url, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,code,name,level,parent,province,sector\n"
                   "unit,ROOT,Tổng Liên đoàn,1,,,\n"
                   "unit,X1,Một,7,ROOT,,\n"
                   "unit,X2,Hai,2,MISSING,,\n", encoding="utf-8")
    result = congdoan("units", "import", str(bad), db_url=db_url)
    assert result.returncode == 1
    assert ":3:" in result.stderr and ":4:" in result.stderr
    assert "Nothing imported" in result.stderr


async def test_congdoan_run_upgrades_the_schema_and_polls(tmp_path):
    """The real command, as an operator starts it, against the emulator; SIGTERM stops it cleanly."""
    import asyncio
    import signal

    from sandbox.emulator import BotApiEmulator

    token = "7300000003:RUN"
    async with BotApiEmulator() as emulator:
        emulator.add_bot(token, username="run_test_bot")
        environment = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_URL", "ADMIN_IDS")}
        environment.update(BOT_TOKEN=token, TELEGRAM_API_URL=emulator.base_url,
                           DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.db'}")
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=REPO_ROOT,
                                                       env=environment, stderr=asyncio.subprocess.PIPE)
        try:
            user = emulator.create_user("Lan")
            await emulator.send_text(user, "/start")
            question = await emulator.next_message(user.id, timeout=30)
            assert [b["callback_data"] for row in question["reply_markup"]["inline_keyboard"] for b in row] == [
                "lang:vi", "lang:en"]
            assert emulator.calls_of("setMyCommands")
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert b"Traceback" not in stderr
        assert token.split(":")[1].encode() not in stderr  # logs never carry the token
