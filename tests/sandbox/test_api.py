"""The sandbox assembled (emulator, real bot, demo data) and the page's JSON API, without a browser."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from sqlalchemy import func, select

from db.models import ContestRound, Member, Unit
from db.session import create_engine, create_session_factory
from db.types import utcnow
from sandbox.app import running


async def next_event(events: aiohttp.ClientResponse, chat_id: int, kind: str = "sent") -> dict:
    """The next server-sent event about that chat, of that kind."""
    while True:
        line = (await asyncio.wait_for(events.content.readline(), 15)).decode()
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event.get("chat_id") == chat_id and event.get("kind") == kind:
                return event


async def test_demo_world_personas_chats_and_database(tmp_path):
    async with running(data_dir=tmp_path) as (sandbox, base), aiohttp.ClientSession(base) as http:
        state = await (await http.get("/api/state")).json()
        personas = {p["key"]: p for p in state["personas"]}
        assert list(personas) == ["worker", "newcomer", "grassroots", "park", "admin"]
        assert [c["type"] for c in personas["worker"]["chats"]] == ["private"]
        assert [c["title"] for c in personas["grassroots"]["chats"][1:]] == ["CĐCS May Sông Hồng · Hộp thư"]
        assert [c["title"] for c in personas["park"]["chats"][1:]] == ["CĐ KCN-KCX Hà Nội · Hộp thư"]
        assert {c["command"] for c in state["bot"]["commands"]["vi"]} >= {"start", "report", "mycases"}
        assert sandbox.world.settings.admin_ids == [personas["admin"]["user_id"]]

        engine = create_engine(sandbox.database_url)
        async with create_session_factory(engine)() as session:
            inboxes = dict((await session.execute(select(Unit.code, Unit.inbox_chat_id).where(
                Unit.inbox_chat_id.is_not(None)))).all())
            assert inboxes == {"CDCS-MAYSH": personas["grassroots"]["chats"][1]["id"],
                               "KCN-HN": personas["park"]["chats"][1]["id"],
                               "LDLD-HN": personas["admin"]["chats"][1]["id"]}
            newcomer = await session.scalar(select(Member).where(
                Member.telegram_id == personas["newcomer"]["user_id"]))
            assert newcomer.onboarded_at is None
            worker = await session.scalar(select(Member).where(Member.telegram_id == personas["worker"]["user_id"]))
            assert worker.onboarded_at is not None and worker.has_consent
            now = utcnow()
            open_rounds = await session.scalar(select(func.count(ContestRound.id)).where(
                ContestRound.starts_at <= now, ContestRound.ends_at > now))
            assert open_rounds == 1
        await engine.dispose()


async def test_a_persona_talks_to_the_bot_and_the_page_hears_it_live(tmp_path):
    async with running(data_dir=tmp_path) as (_, base), aiohttp.ClientSession(base) as http:
        state = await (await http.get("/api/state")).json()
        newcomer = next(p for p in state["personas"] if p["key"] == "newcomer")
        chat = newcomer["user_id"]
        events = await http.get("/api/events")
        sent = await (await http.post("/api/send", json={"persona": "newcomer", "chat": chat,
                                                         "text": "/start"})).json()
        assert (await next_event(events, chat))["message"]["message_id"] == sent["message"]["message_id"]
        question = (await next_event(events, chat))["message"]
        buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
        assert [b["callback_data"] for b in buttons] == ["lang:vi", "lang:en"]

        pressed = await http.post("/api/press", json={"persona": "newcomer", "chat": chat,
                                                      "message_id": question["message_id"], "data": "lang:vi"})
        assert pressed.status == 200
        edited = await next_event(events, chat, "edited")
        assert edited["message"]["message_id"] == question["message_id"]

        listed = await (await http.get(f"/api/chats/{chat}/messages", params={"persona": "newcomer"})).json()
        assert listed["messages"][0]["text"] == "/start" and len(listed["messages"]) >= 2
        events.close()


async def test_bad_requests_are_refused(tmp_path):
    async with running(data_dir=tmp_path) as (_, base), aiohttp.ClientSession(base) as http:
        state = await (await http.get("/api/state")).json()
        worker, officer = state["personas"][0], state["personas"][2]
        group = officer["chats"][1]["id"]
        not_member = await http.post("/api/send", json={"persona": "worker", "chat": group, "text": "xin chào"})
        assert not_member.status == 400  # Lan is not in the union's inbox group
        unknown = await http.post("/api/send", json={"persona": "nobody", "chat": worker["user_id"], "text": "a"})
        assert unknown.status == 400
        empty = await http.post("/api/send", json={"persona": "worker", "chat": worker["user_id"], "text": "  "})
        assert empty.status == 400
        forged = await http.post("/api/press", json={"persona": "worker", "chat": worker["user_id"],
                                                     "message_id": 1, "data": "case:claim:1"})
        assert forged.status == 400
        assert (await http.get(f"/api/chats/{group}/messages", params={"persona": "worker"})).status == 400
        assert (await http.post("/api/send", data=b"not json")).status == 400
        as_form = await http.post("/api/send", data=json.dumps({"persona": "worker", "chat": worker["user_id"],
                                                                "text": "hi"}), headers={"Content-Type": "text/plain"})
        assert as_form.status == 400  # what a cross-site form could send
        cross_site = await http.post("/api/reset", json={}, headers={"Origin": "http://evil.example"})
        assert cross_site.status == 403
        rebound = await http.get("/api/state", headers={"Host": "evil.example:8080"})
        assert rebound.status == 403


async def test_user_text_stays_text_and_uploads_become_photos_and_documents(tmp_path):
    async with running(data_dir=tmp_path) as (_, base), aiohttp.ClientSession(base) as http:
        state = await (await http.get("/api/state")).json()
        chat = state["personas"][0]["user_id"]
        sent = await (await http.post("/api/send", json={"persona": "worker", "chat": chat,
                                                         "text": "<img src=x onerror=alert(1)>"})).json()
        assert sent["message"]["text"] == "<img src=x onerror=alert(1)>" and "entities" not in sent["message"]

        form = aiohttp.FormData()
        form.add_field("persona", "worker")
        form.add_field("chat", str(chat))
        form.add_field("caption", "phiếu lương")
        form.add_field("file", b"\x89PNG\r\n\x1a\nfake", filename="luong.png", content_type="image/png")
        photo = (await (await http.post("/api/upload", data=form)).json())["message"]
        assert photo["caption"] == "phiếu lương" and photo["photo"]
        served = await http.get(f"/api/file/{photo['photo'][-1]['file_id']}")
        assert served.content_type.startswith("image/") and await served.read() == b"\x89PNG\r\n\x1a\nfake"

        form = aiohttp.FormData()
        form.add_field("persona", "worker")
        form.add_field("chat", str(chat))
        form.add_field("file", b"<html><script>alert(1)</script>", filename="x.html", content_type="text/html")
        document = (await (await http.post("/api/upload", data=form)).json())["message"]
        assert document["document"]["file_name"] == "x.html"
        served = await http.get(f"/api/file/{document['document']['file_id']}")
        assert served.content_type == "application/octet-stream"  # downloaded, never rendered as a page
        assert served.headers["Content-Disposition"] == "attachment"


async def test_reset_brings_back_the_demo(tmp_path):
    async with running(data_dir=tmp_path) as (sandbox, base), aiohttp.ClientSession(base) as http:
        state = await (await http.get("/api/state")).json()
        newcomer = state["personas"][1]["user_id"]
        events = await http.get("/api/events")
        await http.post("/api/send", json={"persona": "newcomer", "chat": newcomer, "text": "/start"})
        await next_event(events, newcomer)  # her own message
        await next_event(events, newcomer)  # the bot's first question

        assert (await http.post("/api/reset")).status == 200
        while True:  # the page is told to reload
            line = (await asyncio.wait_for(events.content.readline(), 15)).decode()
            if line.startswith("data: ") and json.loads(line[6:])["type"] == "reset":
                break
        listed = await (await http.get(f"/api/chats/{newcomer}/messages", params={"persona": "newcomer"})).json()
        assert listed["messages"] == []
        engine = create_engine(sandbox.database_url)
        async with create_session_factory(engine)() as session:
            assert await session.scalar(select(func.count(Member.id))) == 5  # the personas, nobody else
        await engine.dispose()
        events.close()


async def test_a_quiz_poll_from_the_bot_can_be_answered(tmp_path):
    async with running(data_dir=tmp_path) as (sandbox, base), aiohttp.ClientSession(base) as http:
        state = await (await http.get("/api/state")).json()
        chat = state["personas"][0]["user_id"]
        world = sandbox.world
        token = next(iter(world.emulator.bots))
        async with http.post(f"{world.emulator.base_url}{token}/sendPoll", json={
                "chat_id": chat, "question": "Công đoàn cơ sở do ai thành lập?", "type": "quiz",
                "options": [{"text": "Giám đốc"}, {"text": "Người lao động"}], "correct_option_ids": [1],
                "is_anonymous": False}) as sent:
            poll = (await sent.json())["result"]
        voted = await http.post("/api/vote", json={"persona": "worker", "chat": chat,
                                                   "message_id": poll["message_id"], "options": [1]})
        assert voted.status == 200
        listed = await (await http.get(f"/api/chats/{chat}/messages", params={"persona": "worker"})).json()
        shown = next(m for m in listed["messages"] if m["message_id"] == poll["message_id"])
        assert shown["my_vote"] == [1] and shown["poll"]["total_voter_count"] == 1
        again = await http.post("/api/vote", json={"persona": "worker", "chat": chat,
                                                   "message_id": poll["message_id"], "options": [0]})
        assert again.status == 400  # a quiz answer is final
