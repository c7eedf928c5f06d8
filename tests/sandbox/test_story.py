"""The sandbox page in a real browser, on a phone-sized screen, as people use it: a newcomer starts, a garment
worker raises a concern with a photo, her grassroots union's officer handles the card in the union's group,
the worker rates the outcome, and the admin opens /admin and previews a broadcast. Assertions are on what the page shows."""

from __future__ import annotations

import re
import struct
import zlib

from sandbox.app import running
from tests.sandbox.conftest import PHONE
from tests.support.harness import t

WAIT = 15_000  # ms: the longest a person would wait for the bot before calling it broken
CONCERN = "Công ty trả lương tháng 10 chậm ba tuần, không báo lý do <b>gì</b>."
REPLY = "Công đoàn đã gặp phòng nhân sự, lương sẽ trả trước ngày 28/11."
RESOLUTION = "Công ty đã trả đủ lương tháng 10 vào ngày 28/11."
NOTICE = "Chủ nhật này Công đoàn tổ chức khám sức khỏe miễn phí cho đoàn viên tại nhà văn hóa khu công nghiệp."


def png(width: int = 96, height: int = 64) -> bytes:
    """A small real PNG (a payslip stand-in)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes((230, 200, 120)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class Person:
    """The page, used the way a person uses it: pick who you are, open a chat, type, press, attach."""

    def __init__(self, page, expect, artifacts) -> None:
        self.page, self.expect, self.artifacts = page, expect, artifacts

    async def be(self, persona: str) -> None:
        await self.page.select_option("#persona", persona)

    async def open_chat(self, title: str) -> None:
        await self.page.locator(".chat-item", has_text=title).click()
        await self.expect(self.page.locator("#chat-title")).to_have_text(title)

    async def type(self, text: str) -> None:
        await self.page.locator("#composer-input").fill(text)
        await self.page.locator("#composer-input").press("Enter")

    async def press(self, label: str, within: str | None = None) -> None:
        """Press the last inline button showing `label` (in the last message containing `within`)."""
        messages = self.page.locator("#messages .msg")
        if within:
            messages = messages.filter(has_text=within)
        button = messages.locator(".inline-kb button", has_text=label).last
        await self.expect(button).to_be_visible(timeout=WAIT)
        await button.click()

    async def sees(self, text: str, timeout: int = WAIT) -> None:
        await self.expect(self.page.locator("#messages .msg", has_text=text).last).to_be_visible(timeout=timeout)

    async def attach_photo(self, caption: str = "") -> None:
        await self.page.set_input_files("#attach-input", files=[
            {"name": "phieu-luong.png", "mimeType": "image/png", "buffer": png()}])
        if caption:
            await self.page.locator("#upload-caption").fill(caption)
        await self.page.locator("#upload-send").click()

    async def screenshot(self, name: str) -> None:
        await self.page.screenshot(path=str(self.artifacts / f"{name}.png"))


async def test_a_whole_story_through_the_page(browser, artifacts, tmp_path):
    from playwright.async_api import expect

    async with running(data_dir=tmp_path) as (_, base_url):
        context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                            locale="vi-VN")
        page = await context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        person = Person(page, expect, artifacts)
        await page.goto(base_url)
        await expect(page.locator("body[data-ready='1']")).to_have_count(1)
        await expect(page.locator("#persona-role")).to_contain_text("Công nhân may")
        await person.screenshot("01-chats")

        # A newcomer at a workplace without a union starts: the bot asks for the language first.
        await person.be("newcomer")
        await person.open_chat("Công đoàn Việt Nam")
        await page.locator("#start-btn").click()
        await person.sees("/start")
        await expect(page.locator("#messages .inline-kb button", has_text=t("vi", "language.name"))).to_be_visible(
            timeout=WAIT)
        await person.screenshot("02-newcomer-start")
        await page.locator("#back-btn").click()

        # Lan, a garment worker with a grassroots union, raises a concern with a photo of her payslip.
        await person.be("worker")
        await person.open_chat("Công đoàn Việt Nam")
        await person.type("/report")
        await person.sees(t("vi", "intake.ask_category"))
        await person.press("Tiền lương")
        await person.press(t("vi", "intake.scope_individual"))
        await person.type(CONCERN)
        await person.sees(CONCERN)  # her words, shown as typed: the <b> is text, not markup
        await person.attach_photo()
        await expect(page.locator("#messages img.photo").last).to_be_visible(timeout=WAIT)
        await person.sees(t("vi", "intake.attachment_received", count=1, limit=5))
        await person.press(t("vi", "intake.attachments_done"))
        await person.press("🏢")
        await person.press(t("vi", "intake.identity_named"))
        await person.press(t("vi", "intake.submit"))
        acknowledgement = page.locator("#messages .msg", has_text=re.compile(r"PA-\d{4}-\d{4}")).last
        answers_first = page.locator("#messages .inline-kb button", has_text=t("vi", "learn.intake_continue")).last
        await expect(acknowledgement.or_(answers_first)).to_be_visible(timeout=WAIT)
        if await answers_first.is_visible():  # the library had answers for her words: she sends anyway
            await answers_first.click()
        await expect(acknowledgement).to_be_visible(timeout=WAIT)
        code = re.search(r"PA-\d{4}-\d{4}", await acknowledgement.inner_text()).group(0)
        await person.screenshot("03-worker-reported")

        # Hùng, the grassroots officer, finds the card in his union's inbox group, claims it and replies.
        await person.be("grassroots")
        await expect(page.locator(".chat-item", has_text="CĐCS May Sông Hồng")).to_contain_text(code)
        await person.open_chat("CĐCS May Sông Hồng · Hộp thư")
        card = page.locator("#messages .msg", has_text=f"📋 {code}").first  # later prompts quote it
        await expect(card).to_be_visible()
        await expect(card).to_contain_text("Tiền lương")
        await expect(card).to_contain_text("Lan Nguyễn Thị · @lan_maysh")  # a named case shows who raised it
        await expect(card.locator(".inline-kb button", has_text=t("vi", "card.claim"))).to_be_visible()
        await person.screenshot("04-officer-card")
        await person.press(t("vi", "card.claim"), within=f"📋 {code}")
        await expect(card).to_contain_text(t("vi", "card.status_acknowledged"), timeout=WAIT)
        await expect(card.locator(".inline-kb button", has_text=t("vi", "card.claim"))).to_have_count(0)
        await person.press(t("vi", "card.reply"), within=f"📋 {code}")
        await expect(page.locator("#reply-bar")).to_be_visible(timeout=WAIT)  # the bot asks him to reply to it
        await person.type(REPLY)
        await person.sees(t("vi", "card.reply_sent"))
        await person.press(t("vi", "card.resolve"), within=f"📋 {code}")
        await expect(page.locator("#reply-bar")).to_be_visible(timeout=WAIT)
        await person.type(RESOLUTION)
        await person.sees(t("vi", "officers.resolved"))
        await expect(card).to_contain_text(t("vi", "card.status_resolved"), timeout=WAIT)
        await person.screenshot("05-officer-resolved")
        await page.locator("#back-btn").click()

        # Lan reads the union's reply (in the union's name, not Hùng's) and rates the outcome.
        await person.be("worker")
        await person.open_chat("Công đoàn Việt Nam")
        await person.sees(REPLY)
        reply = page.locator("#messages .msg", has_text=REPLY).last
        await expect(reply).to_contain_text("Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội")
        await expect(reply).not_to_contain_text("Hùng")
        await person.sees(RESOLUTION)
        await person.press(t("vi", "case.outcome_yes"), within=RESOLUTION)
        await person.press("⭐⭐⭐⭐⭐")
        await person.sees(t("vi", "worker.outcome_thanks", code=code))
        await person.screenshot("06-worker-rated")
        await page.locator("#reply-keyboard button", has_text=t("vi", "menu.mycases")).click()  # the menu keyboard
        await person.sees(t("vi", "menu.mycases"))  # she sent the label, as Telegram does
        await expect(page.locator("#messages .msg.in").last).to_contain_text(code, timeout=WAIT)
        await page.locator("#back-btn").click()

        # The admin opens the admin hub.
        await person.be("admin")
        await person.open_chat("Công đoàn Việt Nam")
        await person.type("/admin")
        await person.sees(t("vi", "admin.hub_title"))
        await person.screenshot("07-admin")

        # ...and previews a broadcast to the members.
        await person.type("/broadcast")
        await person.press(t("vi", "broadcast.kind_message"))
        await person.sees(t("vi", "broadcast.ask_vi"))
        await person.type(NOTICE)
        await person.press(t("vi", "broadcast.skip_en"))
        await person.press(t("vi", "broadcast.preview_button"))
        await person.sees(t("vi", "broadcast.preview_vi"))
        await expect(page.locator("#messages .msg.in", has_text=NOTICE)).to_be_visible(timeout=WAIT)
        summary = re.escape(t("vi", "broadcast.preview_summary", count=999)).replace("999", r"\d+")
        await expect(page.locator("#messages .msg", has_text=re.compile(summary)).last).to_be_visible(timeout=WAIT)
        await person.screenshot("08-broadcast-preview")

        # English labels on the page, and the reset button brings back the demo data.
        await page.locator("#back-btn").click()
        await page.locator("#lang-toggle").click()
        await expect(page.locator(".pane-title")).to_have_text("Chats")
        await page.locator("#reset-btn").click()
        await person.be("worker")
        await person.open_chat("Công đoàn Việt Nam")
        await expect(page.locator("#messages .empty-chat")).to_be_visible(timeout=WAIT)  # the chat is empty again
        await expect(page.locator("#messages")).not_to_contain_text(REPLY)
        await context.close()
