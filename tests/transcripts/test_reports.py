"""/reports and the reports section of /admin: pick a unit and a period, get a chart and an XLSX file."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from bot.services import officers, units
from db.models import CaseStatus, Grievance, Unit
from db.types import utcnow
from tests.support.harness import buttons_of, data_of, t


async def officer_of(harness, code, name="Hùng"):
    user = harness.user(name)
    async with harness.session_factory() as session:
        invite = await officers.create_invite(session, await units.get_unit_by_code(session, code), "test")
    await harness.reply_to(user, f"/start officer-{invite.token}")
    return user


async def unit_ids(harness):
    async with harness.session_factory() as session:
        return {u.code: u.id for u in await session.scalars(select(Unit))}


async def add_cases(harness):
    """Two cases this month in Hà Nội (one urgent safety case at the grassroots, one wages case at the ward
    union) and one in Ho Chi Minh City, which a Hà Nội report must not count."""
    ids = await unit_ids(harness)
    now = utcnow()
    # "this month" is Vietnam's: in the first minutes of a month, minutes ago is last month
    month_start = now.astimezone(harness.settings.tz).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    now = max(now, month_start.astimezone(now.tzinfo) + timedelta(minutes=5))
    async with harness.session_factory() as session:
        for number, (category, unit, urgent) in enumerate(
                (("safety_health", "CDCS-MAYSH", True), ("wages", "CDP-LONGBIEN", False),
                 ("wages", "CDCS-GIAYBT", False)), start=1):
            session.add(Grievance(code=f"PA-T-{number}", category=category, unit_id=ids[unit], urgent=urgent,
                                  status=CaseStatus.OPEN, created_at=now - timedelta(minutes=number),
                                  acknowledge_due_at=now + timedelta(hours=4), resolve_due_at=now + timedelta(days=5)))
        await session.commit()


def file_bytes(harness, file_id):
    return harness.emulator.files[file_id].data


async def test_an_officer_gets_a_chart_and_an_xlsx_for_their_subtree(harness):
    await add_cases(harness)
    officer = await officer_of(harness, "LDLD-HN")
    picker = await harness.reply_to(officer, "/reports")
    assert picker["text"] == t("vi", "report.pick_unit")
    # paged list: Hà Nội's units, never Ho Chi Minh City's
    codes = [text for text, data in buttons_of(picker) if data.startswith("rpt:u:")]
    assert codes[0] == "LDLD-HN" and "LDLD-HCM" not in codes
    await harness.press(officer, picker, data_of(picker, "LDLD-HN"))
    periods = await harness.next(officer)
    assert periods["text"] == t("vi", "report.pick_period", unit="Liên đoàn Lao động Thành phố Hà Nội")
    await harness.press(officer, periods, data_of(periods, t("vi", "report.period_this_month")))
    photo = await harness.emulator.next_message(officer.id, timeout=20)
    while "photo" not in photo:
        photo = await harness.emulator.next_message(officer.id, timeout=20)
    assert file_bytes(harness, photo["photo"][-1]["file_id"]).startswith(b"\x89PNG")
    assert photo["caption"].startswith("Báo cáo Liên đoàn Lao động Thành phố Hà Nội")
    document = await harness.emulator.next_message(officer.id, timeout=20)
    assert document["document"]["file_name"].startswith("baocao-LDLD-HN-")
    workbook = load_workbook(io.BytesIO(file_bytes(harness, document["document"]["file_id"])))
    sheet = workbook["Theo lĩnh vực"]
    assert [cell.value for cell in sheet[1]] == ["Lĩnh vực", "Số phản ánh", "Đang xử lý", "Đã giải quyết", "Khẩn cấp"]
    assert [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)] == [
        ["Tiền lương, thưởng", 1, 1, 0, 0], ["An toàn, vệ sinh lao động", 1, 1, 0, 1]]
    assert [cell.value for cell in workbook["Theo cấp xử lý"]["B"]][1:] == [1, 1, 0, 0, 0]


async def test_workers_and_forged_presses_are_refused(harness):
    worker = harness.user("Lan")
    assert (await harness.reply_to(worker, "/reports"))["text"] == t("vi", "report.not_allowed")
    officer = await officer_of(harness, "CDCS-MAYSH")
    picker = await harness.reply_to(officer, "/reports")
    assert [text for text, data in buttons_of(picker)] == ["CDCS-MAYSH"]
    ids = await unit_ids(harness)
    for forged in (f"rpt:p:{ids['LDLD-HN']}:this_month", f"rpt:u:{ids['CDP-LONGBIEN']}", "rpt:p:abc:x",
                   f"rpt:p:{ids['CDCS-MAYSH']}:forever", "rpt:", "rpt:pg:99999999"):
        query_id = await harness.press(officer, picker, forged, force=True)
        answer = await harness.emulator.wait_answer(query_id)
        assert answer["text"] in (t("vi", "report.not_allowed"), t("vi", "input.stale_button")), forged
    assert not any("document" in m for m in harness.emulator.messages(officer.id))


async def test_admins_reach_every_unit_from_the_admin_hub(harness):
    admin = harness.user("Quản trị")
    async with harness.session_factory() as session:
        await officers.add_admin(session, admin.id, "test")
    hub = await harness.reply_to(admin, "/admin")
    await harness.press(admin, hub, data_of(hub, t("vi", "admin.section_reports")))
    picker = await harness.next(admin)
    assert picker["text"] == t("vi", "report.pick_unit")
    assert buttons_of(picker)[0] == ("VGCL", f"rpt:u:{(await unit_ids(harness))['VGCL']}")
    # a worker pressing the admin section is refused
    worker = harness.user("Lan")
    await harness.reply_to(worker, "/start")
    query_id = await harness.press(worker, hub, "adm:rpt", force=True)
    assert (await harness.emulator.wait_answer(query_id))["text"] == t("vi", "admin.not_allowed")
