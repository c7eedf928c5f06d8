"""Grievance intake on both databases: codes, routing over the demo hierarchy, whole commits."""

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot import CONTENT_DIR
from bot.services.grievances import Attachment, CaseDraft, next_case_code, submit_case
from bot.services.units import import_units
from db.models import Grievance, GrievanceEvent, GrievanceMessage, Member, Unit, Workplace
from db.session import create_session_factory

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=VN)


async def setup(session, inboxes=("CDCS-MAYSH", "CDP-LONGBIEN", "LDLD-HN", "KCX-HCM", "LDLD-HCM", "KCN-BN",
                                  "LDLD-BN", "VGCL")):
    await import_units(session, (CONTENT_DIR / "demo" / "units.csv").read_text(encoding="utf-8"))
    for index, code in enumerate(inboxes):
        await session.execute(update(Unit).where(Unit.code == code).values(inbox_chat_id=-1000 - index))
    member = Member(telegram_id=555, language="vi", province_code=1)
    session.add(member)
    await session.commit()
    return member


async def workplace_id(session, code):
    return await session.scalar(select(Workplace.id).where(Workplace.code == code))


async def unit_code(session, unit_id):
    return await session.scalar(select(Unit.code).where(Unit.id == unit_id)) if unit_id else None


async def test_codes_are_per_month_and_increase(session):
    first = await next_case_code(session, NOW, VN)
    second = await next_case_code(session, NOW, VN)
    december = await next_case_code(session, datetime(2026, 12, 1, 0, 5, tzinfo=VN), VN)
    await session.commit()
    assert (first, second, december) == ("PA-2611-0001", "PA-2611-0002", "PA-2612-0001")
    # 30 Nov 23:30 in Hà Nội is already December there, though still November in UTC
    assert re.fullmatch(r"PA-2612-\d{4}", await next_case_code(session, datetime(2026, 11, 30, 17, 30,
                                                                                   tzinfo=ZoneInfo("UTC")), VN))


async def test_concurrent_intakes_get_distinct_codes(engine):
    factory = create_session_factory(engine)
    async with factory() as session:
        await setup(session)

    async def one() -> str:
        async with factory() as session:
            member = await session.scalar(select(Member).where(Member.telegram_id == 555))
            submitted = await submit_case(session, member, CaseDraft("wages", "Công ty nợ lương hai tháng nay rồi"),
                                          NOW, VN)
            return submitted.grievance.code

    codes = await asyncio.gather(*(one() for _ in range(8)))
    assert len(set(codes)) == 8


async def test_wages_go_to_the_grassroots_union_and_the_case_is_whole(session):
    member = await setup(session)
    draft = CaseDraft("wages", "Công ty trả lương chậm ba tuần", workplace_id=await workplace_id(session, "WP-MAYSH"),
                      attachments=[Attachment("PHOTO1", "photo", 1000)])
    submitted = await submit_case(session, member, draft, NOW, VN)
    assert await unit_code(session, submitted.grievance.unit_id) == "CDCS-MAYSH"
    assert submitted.route.rule == "default"
    messages = (await session.scalars(select(GrievanceMessage).where(
        GrievanceMessage.grievance_id == submitted.grievance.id))).all()
    assert [(m.text, m.file_id) for m in messages] == [("Công ty trả lương chậm ba tuần", None), (None, "PHOTO1")]
    assert submitted.grievance.acknowledge_due_at.astimezone(VN) == datetime(2026, 11, 26, 9, 30, tzinfo=VN)


async def test_confidential_skips_the_grassroots_union(session):
    member = await setup(session)
    draft = CaseDraft("wages", "Quản đốc bắt làm thêm không trả tiền", identity="confidential",
                      workplace_id=await workplace_id(session, "WP-MAYSH"))
    submitted = await submit_case(session, member, draft, NOW, VN)
    assert await unit_code(session, submitted.grievance.unit_id) == "CDP-LONGBIEN"


async def test_missing_inbox_passes_up_and_is_recorded(session):
    member = await setup(session, inboxes=("LDLD-HN",))
    draft = CaseDraft("wages", "Công ty trả lương chậm ba tuần", workplace_id=await workplace_id(session, "WP-MAYSH"))
    submitted = await submit_case(session, member, draft, NOW, VN)
    assert await unit_code(session, submitted.grievance.unit_id) == "LDLD-HN"
    passed = await session.scalar(select(func.count()).select_from(GrievanceEvent).where(
        GrievanceEvent.grievance_id == submitted.grievance.id, GrievanceEvent.action == "passed_up"))
    assert passed == 2


async def test_no_inbox_anywhere_goes_to_the_admins(session):
    member = await setup(session, inboxes=())
    submitted = await submit_case(session, member, CaseDraft("social_insurance", "Công ty không đóng BHXH cả năm",
                                                             province_code=79), NOW, VN)
    assert submitted.route.to_admins and submitted.grievance.unit_id is None
    assert submitted.grievance.acknowledge_due_at is not None


async def test_unknown_workplace_starts_at_the_provincial_federation(session):
    member = await setup(session)
    draft = CaseDraft("wages", "Xưởng nhỏ nợ lương công nhân", workplace_other_name="Xưởng may Hạnh Phúc",
                      province_code=79)
    submitted = await submit_case(session, member, draft, NOW, VN)
    assert await unit_code(session, submitted.grievance.unit_id) == "LDLD-HCM"


async def test_housing_prefers_the_industrial_park_union(session):
    member = await setup(session)
    draft = CaseDraft("housing", "Nhà trọ công nhân bị cắt nước cả tuần", workplace_id=await workplace_id(
        session, "WP-DIENTUYP"))
    submitted = await submit_case(session, member, draft, NOW, VN)
    assert await unit_code(session, submitted.grievance.unit_id) == "KCN-BN"
    assert await session.scalar(select(func.count()).select_from(Grievance)) == 1


async def test_me_too_shows_only_category_and_count_and_goes_collective_at_five(session):
    from bot.services.grievances import add_voice, similar_open_case

    author = await setup(session)
    maysh = await workplace_id(session, "WP-MAYSH")
    submitted = await submit_case(session, author, CaseDraft("wages", "Công ty trả lương chậm ba tuần",
                                                             workplace_id=maysh), NOW, VN)
    assert await similar_open_case(session, "wages", maysh, author.id) is None  # not your own case
    others = [Member(telegram_id=600 + i, language="vi") for i in range(5)]
    session.add_all(others)
    await session.commit()
    similar = await similar_open_case(session, "wages", maysh, others[0].id)
    assert (similar.category, similar.voices) == ("wages", 1)
    assert not hasattr(similar, "text") and not hasattr(similar, "member_id")
    assert await similar_open_case(session, "housing", maysh, others[0].id) is None
    results = [await add_voice(session, submitted.grievance.id, other, NOW, VN) for other in others[:4]]
    assert [r.voices for r in results] == [2, 3, 4, 5]
    assert [r.became_collective for r in results] == [False, False, False, True]
    assert results[-1].moved_to.code == "CDP-LONGBIEN"
    await session.refresh(submitted.grievance)
    assert submitted.grievance.collective and submitted.grievance.escalations == 1
    assert await similar_open_case(session, "wages", maysh, others[0].id) is None  # already joined
    sixth = await add_voice(session, submitted.grievance.id, others[4], NOW, VN)
    assert (sixth.voices, sixth.became_collective) == (6, False)
