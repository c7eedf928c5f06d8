"""Photo and document broadcasts through the emulator: an admin composes one in the /broadcast composer
(choosing "no quiet hours", so the test does not depend on the hour it runs at), and each member gets
sendPhoto / sendDocument with the composer's file_id, the caption in their language (Vietnamese when there
is no English one), HTML parse mode and the "stop these messages" button; the delivery rows become sent and
a member who blocked the bot is marked blocked (the document broadcast in paid mode: allow_paid_broadcast)."""

from __future__ import annotations

import html

from sqlalchemy import select

from bot.services import broadcasts
from db.models import Broadcast, BroadcastDelivery, Member, MemberStatus
from sandbox.emulator import EmulatorUser
from tests.support.harness import Harness, buttons_of, data_of, t
from tests.transcripts.test_broadcast import _admin, finished, seed_members

CAPTION_VI = "Ảnh hội thao công nhân 2026: <b>giải nhất</b> thuộc về tổ may 3 & tổ cắt"
CAPTION_VI_HTML = "Ảnh hội thao công nhân 2026: <b>giải nhất</b> thuộc về tổ may 3 &amp; tổ cắt"
CAPTION_VI_PLAIN = "Ảnh hội thao công nhân 2026: giải nhất thuộc về tổ may 3 & tổ cắt"
CAPTION_EN = "Workers' sports day 2026: sewing team 3 & the cutting team won"
CAPTION_EN_HTML = html.escape(CAPTION_EN)  # as PTB's text_html writes it: &#x27; and &amp;
DOC_CAPTION_VI = "Thỏa ước lao động tập thể 2026 – bản đầy đủ"


async def _compose_media(harness: Harness, admin: EmulatorUser, send_media, english: str | None) -> int:
    """/broadcast → a message → the media (Vietnamese caption) → English or skip → everyone → preview →
    no quiet hours → now. Returns the broadcast's id once created."""
    await harness.send(admin, "/broadcast")
    await harness.press(admin, await harness.next(admin), "bc:k:message")
    assert (await harness.next(admin))["text"] == t("vi", "broadcast.ask_vi")
    await send_media()
    ask_en = await harness.next(admin)
    if english is None:
        await harness.press(admin, ask_en, "bc:en:skip")
    else:
        await harness.send(admin, english)
    audience = await harness.next(admin)
    await harness.press(admin, audience, "bc:preview")
    previews = [await harness.next(admin) for _ in range(5 if english else 3)]
    summary = previews[-1]
    assert t("vi", "broadcast.quiet_line", window="21:00–07:00") in summary["text"]
    await harness.press(admin, summary, "bc:q:p")
    choices = await harness.next(admin)
    await harness.press(admin, choices, data_of(choices, t("vi", "broadcast.quiet_off")))
    summary = await harness.next(admin)
    assert t("vi", "broadcast.quiet_line", window=t("vi", "broadcast.quiet_none")) in summary["text"]
    await harness.press(admin, summary, "bc:when")
    when = await harness.next(admin)
    assert when["text"] == t("vi", "broadcast.ask_when", tz=harness.settings.tz_name,
                             quiet=t("vi", "broadcast.quiet_when_none"))
    await harness.press(admin, when, "bc:w:now")
    created = await harness.next(admin)
    assert created["text"].startswith(t("vi", "broadcast.created_now", count=999).split("999")[0])
    async with harness.session_factory() as session:
        broadcast = await session.scalar(select(Broadcast).order_by(Broadcast.id.desc()))
    assert (broadcast.quiet_start, broadcast.quiet_end) == broadcasts.NO_QUIET
    return broadcast.id


def _delivered(harness: Harness, method: str, user: EmulatorUser) -> list[dict]:
    """The params of each successful `method` call the sender made to the user's chat."""
    return [call.params for call in harness.emulator.calls_of(method)
            if call.status == 200 and call.params.get("chat_id") == user.id]


def _stop_button(params: dict) -> tuple[str, str]:
    return buttons_of({"reply_markup": params["reply_markup"]})[-1]


async def _statuses(harness: Harness, broadcast_id: int) -> dict[int, str]:
    """Delivery status per recipient's Telegram id, for the broadcast's run."""
    async with harness.session_factory() as session:
        run_id = (await finished(harness, broadcast_id)).id
        rows = await session.execute(select(Member.telegram_id, BroadcastDelivery.status)
                                     .join(Member, Member.id == BroadcastDelivery.member_id)
                                     .where(BroadcastDelivery.run_id == run_id))
        return dict(rows.all())


async def _member_status(harness: Harness, user: EmulatorUser) -> MemberStatus:
    async with harness.session_factory() as session:
        return await session.scalar(select(Member.status).where(Member.telegram_id == user.id))


async def test_photo_broadcast_reaches_each_member_in_their_language(harness):
    emulator = harness.emulator
    admin = await _admin(harness)
    vi_members = [emulator.create_user(f"CN{i}") for i in range(3)]
    en_member = emulator.create_user("Anna", language_code="en")
    gone = emulator.create_user("Đã chặn")
    await seed_members(harness, [*vi_members, gone])
    await seed_members(harness, [en_member], language="en")
    emulator.block_chat(gone)
    photo = emulator.new_file(b"\x89PNG sports day", "photos/sports.jpg", "image/jpeg", None)
    bold = {"type": "bold", "offset": len("Ảnh hội thao công nhân 2026: "), "length": len("giải nhất")}

    async def send_photo() -> None:
        await emulator.send_content(admin, {
            "photo": [{"file_id": photo.file_id, "file_unique_id": photo.file_unique_id, "width": 1280,
                       "height": 960, "file_size": photo.size}],
            "caption": CAPTION_VI_PLAIN, "caption_entities": [bold]})

    broadcast_id = await _compose_media(harness, admin, send_photo, CAPTION_EN)
    statuses = await _statuses(harness, broadcast_id)

    expected = {user.id: CAPTION_VI_HTML for user in (*vi_members, admin)} | {en_member.id: CAPTION_EN_HTML}
    for user in (*vi_members, en_member, admin):
        calls = _delivered(harness, "sendPhoto", user)
        broadcast_call = calls[-1]  # the admin also got the preview before it
        assert len(calls) == (3 if user is admin else 1)
        assert broadcast_call["photo"] == photo.file_id
        assert broadcast_call["caption"] == expected[user.id]
        assert broadcast_call["parse_mode"] == "HTML"
        assert _stop_button(broadcast_call) == (t(user.language_code, "broadcast.stop_button"), "bc:stop:news")
    seen = emulator.messages(vi_members[0])[-1]
    assert seen["photo"][0]["file_id"] == photo.file_id
    assert seen["caption"] == CAPTION_VI_PLAIN and seen["caption_entities"][0]["type"] == "bold"
    assert emulator.messages(en_member)[-1]["caption"] == CAPTION_EN
    assert _delivered(harness, "sendMessage", en_member) == []  # the photo itself, not a text about it
    assert statuses == {**{user.id: broadcasts.SENT for user in (*vi_members, en_member, admin)},
                        gone.id: broadcasts.BLOCKED}
    assert await _member_status(harness, gone) == MemberStatus.BLOCKED
    assert emulator.messages(gone) == []


async def test_document_broadcast_falls_back_to_vietnamese_in_paid_mode(paid_harness):
    harness, emulator = paid_harness, paid_harness.emulator
    admin = await _admin(harness)
    vi_member = emulator.create_user("Lan")
    en_members = [emulator.create_user(f"Worker{i}", language_code="en") for i in range(2)]
    gone = emulator.create_user("Nghỉ việc", language_code="en")
    await seed_members(harness, [vi_member])
    await seed_members(harness, [*en_members, gone], language="en")
    emulator.block_chat(gone, reason="deactivated")
    document: dict = {}

    async def send_document() -> None:
        sent = await emulator.send_document(admin, b"%PDF-1.4 agreement", filename="thoa-uoc-2026.pdf",
                                            caption=DOC_CAPTION_VI)
        document.update(sent["document"])

    broadcast_id = await _compose_media(harness, admin, send_document, None)
    statuses = await _statuses(harness, broadcast_id)

    for user in (vi_member, *en_members):
        [call] = _delivered(harness, "sendDocument", user)
        assert call["document"] == document["file_id"]
        assert call["caption"] == DOC_CAPTION_VI  # no English version: Vietnamese for everyone
        assert call["parse_mode"] == "HTML"
        assert call["allow_paid_broadcast"] is True
        assert _stop_button(call) == (t(user.language_code, "broadcast.stop_button"), "bc:stop:news")
        seen = emulator.messages(user)[-1]
        assert seen["document"]["file_id"] == document["file_id"]
        assert seen["document"]["file_name"] == "thoa-uoc-2026.pdf"
        assert seen["caption"] == DOC_CAPTION_VI
    assert len(_delivered(harness, "sendDocument", admin)) == 2  # the preview, then the broadcast
    assert statuses == {**{user.id: broadcasts.SENT for user in (vi_member, *en_members, admin)},
                        gone.id: broadcasts.BLOCKED}
    assert await _member_status(harness, gone) == MemberStatus.BLOCKED
