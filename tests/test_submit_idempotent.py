"""submit_case is idempotent per draft token, on both databases, even when sends race past the check."""

import asyncio

from sqlalchemy import func, select

from bot.services.grievances import CaseDraft, submit_case, submitted_case
from db.models import Grievance, GrievanceEvent, Member
from db.session import create_session_factory
from tests.test_grievances import NOW, VN, setup

TEXT = "Công ty nợ lương hai tháng nay rồi"


async def test_the_same_draft_sent_again_gives_back_its_case(session):
    member = await setup(session)
    first = await submit_case(session, member, CaseDraft("wages", TEXT, token="a" * 32), NOW, VN)
    again = await submit_case(session, member, CaseDraft("wages", TEXT, token="a" * 32), NOW, VN)
    assert first.created and not again.created
    assert again.grievance.id == first.grievance.id and again.grievance.code == first.grievance.code
    assert (again.unit.id if again.unit else None) == first.grievance.unit_id
    assert await session.scalar(select(func.count()).select_from(Grievance)) == 1
    assert (await submitted_case(session, member.id, "a" * 32)).id == first.grievance.id


async def test_other_drafts_and_other_members_are_other_cases(session):
    member = await setup(session)
    other = Member(telegram_id=556, language="vi", province_code=1)
    session.add(other)
    await session.commit()
    codes = {(await submit_case(session, who, CaseDraft("wages", TEXT, token=token), NOW, VN)).grievance.code
             for who, token in ((member, "a" * 32), (member, "b" * 32), (other, "a" * 32), (member, None),
                                (member, None))}
    assert len(codes) == 5  # a draft without a token (kept from before tokens) is never matched
    assert await submitted_case(session, member.id, None) is None


async def test_racing_sends_of_one_draft_make_one_case(engine):
    """Eight sends of the same draft at once, each in a session of its own: they all pass the check before
    any commits, the unique index stops all but one, and every send answers with that one case."""
    factory = create_session_factory(engine)
    async with factory() as session:
        await setup(session)

    async def send() -> tuple[str, bool, str]:
        async with factory() as session:
            member = await session.scalar(select(Member).where(Member.telegram_id == 555))
            submitted = await submit_case(session, member, CaseDraft("wages", TEXT, token="c" * 32), NOW, VN)
            return submitted.grievance.code, submitted.created, member.language  # the member is still usable

    results = await asyncio.gather(*(send() for _ in range(8)))
    assert len({code for code, _, _ in results}) == 1
    assert [created for _, created, _ in results].count(True) == 1
    async with factory() as session:
        assert await session.scalar(select(func.count()).select_from(Grievance)) == 1
        assert await session.scalar(select(func.count()).select_from(GrievanceEvent)) == 1
        code = await session.scalar(select(Grievance.code))
    assert code.endswith("-0001")  # the losers' numbers were rolled back with them: no gap
