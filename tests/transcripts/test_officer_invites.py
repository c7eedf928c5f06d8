"""Officer invites: `congdoan officer invite UNIT` makes a single-use, expiring deep link."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from bot.services import officers, units
from db.models import Member, Officer
from db.types import utcnow
from tests.support.harness import BOT_USERNAME, t


async def make_invite(harness, unit_code, **kwargs):
    async with harness.session_factory() as session:
        unit = await units.get_unit_by_code(session, unit_code)
        invite = await officers.create_invite(session, unit, "test", **kwargs)
        return unit, invite


async def officers_of(harness, user):
    async with harness.session_factory() as session:
        member = await session.scalar(select(Member).where(Member.telegram_id == user.id))
        return (await session.scalars(select(Officer).where(Officer.member_id == member.id))).all()


async def test_valid_invite_binds_the_user_to_the_unit(harness):
    unit, invite = await make_invite(harness, harness.demo["grassroots_unit"])
    link = officers.deep_link(BOT_USERNAME, invite)
    assert link == f"https://t.me/{BOT_USERNAME}?start=officer-{invite.token}"
    assert len(officers.invite_payload(invite)) <= 64
    user = harness.user("Hùng")
    reply = await harness.reply_to(user, f"/start officer-{invite.token}")
    assert reply["text"] == t("vi", "invite.accepted", unit=unit.name)
    [officer] = await officers_of(harness, user)
    assert officer.unit_id == unit.id and officer.revoked_at is None


async def test_reused_invite_is_refused(harness):
    _, invite = await make_invite(harness, harness.demo["grassroots_unit"])
    first, second = harness.user("Hùng"), harness.user("Tâm")
    await harness.reply_to(first, f"/start officer-{invite.token}")
    refused = await harness.reply_to(second, f"/start officer-{invite.token}")
    assert refused["text"] == t("vi", "invite.used")
    assert await officers_of(harness, second) == []


async def test_expired_invite_is_refused(harness):
    _, invite = await make_invite(harness, harness.demo["grassroots_unit"], ttl=timedelta(hours=1))
    user = harness.user("Hùng", language_code="en")
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=True):
        refused = await harness.reply_to(user, f"/start officer-{invite.token}")
    assert refused["text"] == t("en", "invite.expired")
    assert await officers_of(harness, user) == []


async def test_revoked_and_unknown_invites_are_refused(harness):
    _, invite = await make_invite(harness, harness.demo["grassroots_unit"])
    async with harness.session_factory() as session:
        await officers.revoke_invite(session, await session.merge(invite), "test")
    user = harness.user()
    assert (await harness.reply_to(user, f"/start officer-{invite.token}"))["text"] == t("vi", "invite.revoked")
    assert (await harness.reply_to(user, "/start officer-nope"))["text"] == t("vi", "invite.unknown")
