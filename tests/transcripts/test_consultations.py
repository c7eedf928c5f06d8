"""Consultations (góp ý): opened from a YAML file with the CLI, listed in /gopy for their audience only,
comments named and anonymous reaching the owning unit's inbox, refused after the deadline, and exported
with the CLI to XLSX (read back with openpyxl) and CSV, identity empty for anonymous comments."""

from __future__ import annotations

import asyncio
import csv
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select, update

from db.models import Consultation, ConsultationComment
from db.types import utcnow
from tests.support.harness import buttons_of, data_of, t
from tests.test_cli import congdoan
from tests.transcripts.test_join import inbox_with_officer, onboarded_worker

SPEC = """\
slug: nghi-dinh-bhxh
title: Góp ý dự thảo Nghị định hướng dẫn Luật Bảo hiểm xã hội 2024
summary: |
  Dự thảo hướng dẫn đóng, hưởng bảo hiểm xã hội bắt buộc. Đề nghị đoàn viên cho ý kiến <đặc biệt> về lương hưu.
document: https://example.gov.vn/du-thao-nghi-dinh.pdf
deadline: 2099-12-31 17:00
audience: province:1
owner: LDLD-HN
"""
TITLE = "Góp ý dự thảo Nghị định hướng dẫn Luật Bảo hiểm xã hội 2024"


async def cli(*args, db_url):
    return await asyncio.to_thread(congdoan, *args, db_url=db_url)


async def open_from_file(harness, tmp_path, spec=SPEC):
    path = tmp_path / "consultation.yaml"
    path.write_text(spec, encoding="utf-8")
    return await cli("consultation", "open", str(path), db_url=harness.settings.database_url)


async def comment(harness, worker, text, identity) -> dict:
    listing = await harness.reply_to(worker, "/gopy")
    await harness.press(worker, listing, data_of(listing, TITLE[:40]))
    shown = await harness.next(worker)
    await harness.press(worker, shown, data_of(shown, t(worker.language_code, "gopy.comment")))
    asked = await harness.next(worker)
    assert asked["text"] == t(worker.language_code, "gopy.ask_text", title=TITLE, high=3000)
    identity_question = await harness.reply_to(worker, text)
    await harness.press(worker, identity_question, f"gy:id:{identity}")
    return await harness.next(worker)


async def test_comments_reach_the_owning_unit_and_export_to_xlsx_and_csv(harness, tmp_path):
    opened = await open_from_file(harness, tmp_path)
    assert opened.returncode == 0, opened.stderr
    assert "nghi-dinh-bhxh opened" in opened.stdout and "31/12/2099 17:00" in opened.stdout
    _, group = await inbox_with_officer(harness, "LDLD-HN", "Mai", "Phạm")
    named = await onboarded_worker(harness)
    anonymous = await onboarded_worker(harness, "WP-DIENTUTL", first_name="Bí Mật", username="bimat_99",
                                       phone="+84987654321")
    outsider = await onboarded_worker(harness, "WP-GIAYBT", first_name="Sài", username="sai_gon")  # HCM City

    listing = await harness.reply_to(named, "/gopy")
    assert [text for text, _ in buttons_of(listing)] == [TITLE]
    await harness.press(named, listing, buttons_of(listing)[0][1])
    shown = await harness.next(named)
    assert "<đặc biệt>" in shown["text"] and "31/12/2099 17:00" in shown["text"]
    assert "Liên đoàn Lao động Thành phố Hà Nội" in shown["text"]
    assert any(e.get("url") == "https://example.gov.vn/du-thao-nghi-dinh.pdf" for e in shown.get("entities", []))

    sent = await comment(harness, named, "=Điều 5 nên giữ mức đóng như cũ cho lao động phổ thông.", "named")
    assert sent["text"] == t("vi", "gopy.sent", title=TITLE)
    card = await harness.next(group.id)
    assert "Lan Nguyễn · @lan_may" in card["text"] and "=Điều 5" in card["text"] and TITLE in card["text"]
    await comment(harness, anonymous, "Đề nghị cho rút BHXH một lần khi mất việc trên 12 tháng.", "anonymous")
    card = await harness.next(group.id)
    assert t("vi", "gopy.card_anonymous") in card["text"]
    for secret in ("Bí Mật", "bimat_99", "+84987654321", str(anonymous.id)):
        assert secret not in card["text"]
    assert (await harness.reply_to(outsider, "/gopy"))["text"] == t("vi", "gopy.none_open")

    xlsx = tmp_path / "out.xlsx"
    exported = await cli("consultation", "export", "nghi-dinh-bhxh", "--format", "xlsx", "-o", str(xlsx),
                         db_url=harness.settings.database_url)
    assert exported.returncode == 0, exported.stderr
    assert "2 comment(s)" in exported.stdout
    sheet = load_workbook(xlsx)["comments"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == ["comment_id", "sent_at", "identity", "name", "username", "phone", "workplace", "province",
                       "text"]
    assert rows[1][2:] == ["named", "Lan Nguyễn", "lan_may", "+84912345678", "Công ty TNHH May Sông Hồng Hà Nội",
                           "Thành phố Hà Nội", "=Điều 5 nên giữ mức đóng như cũ cho lao động phổ thông."]
    assert sheet["I2"].data_type == "s"  # typed text is never a formula
    assert rows[2][2:] == ["anonymous", None, None, None, None, "Thành phố Hà Nội",
                           "Đề nghị cho rút BHXH một lần khi mất việc trên 12 tháng."]

    csv_path = tmp_path / "out.csv"
    exported = await cli("consultation", "export", "nghi-dinh-bhxh", "--format", "csv", "-o", str(csv_path),
                         db_url=harness.settings.database_url)
    assert exported.returncode == 0, exported.stderr
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert lines[1][3] == "Lan Nguyễn" and lines[1][8].startswith("'=Điều 5")
    assert lines[2][2:7] == ["anonymous", "", "", "", ""]
    missing = await cli("consultation", "export", "khong-co", db_url=harness.settings.database_url)
    assert missing.returncode == 1 and "no consultation" in missing.stderr


async def test_after_the_deadline_comments_are_refused_politely(harness, tmp_path):
    assert (await open_from_file(harness, tmp_path)).returncode == 0
    _, group = await inbox_with_officer(harness, "LDLD-HN", "Mai", "Phạm")
    worker = await onboarded_worker(harness)
    listing = await harness.reply_to(worker, "/gopy")
    await harness.press(worker, listing, buttons_of(listing)[0][1])
    shown = await harness.next(worker)
    await harness.press(worker, shown, data_of(shown, t("vi", "gopy.comment")))
    await harness.next(worker)
    identity_question = await harness.reply_to(worker, "Góp ý gửi sát giờ hết hạn.")
    async with harness.session_factory() as session:
        await session.execute(update(Consultation).values(deadline=utcnow() - timedelta(minutes=1)))
        await session.commit()
    await harness.press(worker, identity_question, "gy:id:named")
    assert (await harness.next(worker))["text"] == t("vi", "gopy.refused_closed")
    late = await harness.press(worker, shown, data_of(shown, t("vi", "gopy.comment")))
    assert (await harness.next(worker))["text"] == t("vi", "gopy.refused_closed")
    await harness.emulator.wait_answer(late)
    assert (await harness.reply_to(worker, "/gopy"))["text"] == t("vi", "gopy.none_open")
    async with harness.session_factory() as session:
        assert (await session.scalars(select(ConsultationComment))).all() == []


async def test_bad_files_forged_buttons_and_bad_input(harness, tmp_path):
    bad = await open_from_file(harness, tmp_path, "slug: Bad Slug\ntitle: x\nsummary: y\ndeadline: hôm nay\n"
                                                  "audience: province:99\nowner: KHONG-CO\n")
    assert bad.returncode == 1
    for field in ("slug:", "deadline:", "audience:"):
        assert field in bad.stderr
    past = await open_from_file(harness, tmp_path, SPEC.replace("2099-12-31", "2020-01-01"))
    assert past.returncode == 1 and "already passed" in past.stderr
    unknown_owner = await open_from_file(harness, tmp_path, SPEC.replace("LDLD-HN", "KHONG-CO"))
    assert unknown_owner.returncode == 1 and "KHONG-CO" in unknown_owner.stderr
    assert (await open_from_file(harness, tmp_path)).returncode == 0

    worker = await onboarded_worker(harness)
    outsider = await onboarded_worker(harness, "WP-GIAYBT", first_name="Sài", username="sai_gon")
    async with harness.session_factory() as session:
        consultation_id = await session.scalar(select(Consultation.id))
    menu = await harness.reply_to(outsider, "/menu")
    for forged in (f"gy:c:{consultation_id}", f"gy:v:{consultation_id}", "gy:c:999", "gy:id:named", "gy:zz"):
        query = await harness.press(outsider, menu, forged, force=True)
        assert (await harness.emulator.wait_answer(query))["text"] == t("vi", "input.stale_button")
    listing = await harness.reply_to(worker, "/gopy")
    await harness.press(worker, listing, buttons_of(listing)[0][1])
    shown = await harness.next(worker)
    await harness.press(worker, shown, data_of(shown, t("vi", "gopy.comment")))
    await harness.next(worker)
    assert (await harness.reply_to(worker, "ok"))["text"] == t("vi", "gopy.too_short", low=5, high=3000, length=2)
    too_long = await harness.reply_to(worker, "x" * 3001)
    assert too_long["text"] == t("vi", "gopy.too_long", low=5, high=3000, length=3001)
    await harness.emulator.send_sticker(worker)
    assert (await harness.next(worker))["text"] == t("vi", "idea.text_only")
    assert (await harness.reply_to(worker, "/menu"))["text"] == t("vi", "menu.title")  # leaves the draft
    after = await harness.reply_to(worker, "Một câu bất kỳ")  # no longer read as the comment
    assert after["text"] != t("vi", "gopy.ask_identity") and "gy:id:named" not in str(after.get("reply_markup"))
    stranger = harness.user("Kim")
    assert (await harness.reply_to(stranger, "/gopy"))["text"] == t("vi", "gopy.refused_needs_profile")
