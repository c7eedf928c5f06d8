"""What join requests, ideas, nominations and consultation comments share: which unit receives them, who
may act on them, and where their cards stand. Plain domain code; handlers/engagement.py renders the cards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.cases import officer_unit_ids
from bot.services.grievances import worker_path
from bot.services.units import unit_path
from db.models import EngagementCard, Member, Unit, Workplace


class Refused(Exception):
    """The action does not apply: not allowed, already decided, or the item is unknown."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Destination:
    unit: Unit | None  # the nearest unit on the worker's path with an inbox; None: the admins
    workplace: Workplace | None


async def destination(session: AsyncSession, member: Member) -> Destination:
    """The grassroots union of the member's workplace, else the upper-level union of the area (the provincial
    federation for an unlisted workplace or one without a grassroots union), walked up past units without an
    inbox. Nobody with an inbox on the path: the admins."""
    workplace = await session.get(Workplace, member.workplace_id) if member.workplace_id else None
    province = member.workplace_other_province_code or member.province_code
    path = await worker_path(session, workplace, province)
    first = next((unit for unit in path if unit.has_inbox), None)
    return Destination(await session.get(Unit, first.id) if first else None, workplace)


@dataclass(frozen=True)
class Rehomed:
    """The open items of one kind that left a unit which lost its inbox, and where they went."""

    kind: str
    items: list[Any]
    unit: Unit | None  # the nearest unit above with an inbox; None: the admins


async def nearest_inbox_above(session: AsyncSession, unit_id: int) -> Unit | None:
    """As cases.escalate picks it: the nearest unit above with an inbox; None: the admins."""
    above = (await unit_path(session, unit_id))[1:]
    return next((unit for unit in above if unit.inbox_chat_id is not None), None)


async def rehome_open(session: AsyncSession, kind: str, model: type[Any], still_open: ColumnElement[bool],
                      unit: Unit, actor: str) -> Rehomed:
    """The unit lost its inbox: every open item of `kind` it received goes to the nearest unit above with an
    inbox (the admins when there is none), audited, and its card rows are dropped so a press on an old card
    is stale. Committed before the caller posts the new cards."""
    items = list(await session.scalars(select(model).where(model.unit_id == unit.id, still_open)
                                       .order_by(model.id)))
    target = await nearest_inbox_above(session, unit.id)
    for item in items:
        item.unit_id = target.id if target else None
        audit.record(session, actor, f"{kind}.moved", f"{kind}:{item.id}", from_unit=unit.code,
                     to_unit=target.code if target else None, reason="inbox_lost")
    if items:
        await session.execute(delete(EngagementCard).where(EngagementCard.kind == kind,
                                                           EngagementCard.item_id.in_([item.id for item in items])))
    await session.commit()
    return Rehomed(kind, items, target)


async def member_unit_ids(session: AsyncSession, member: Member) -> set[int]:
    """The units above the member, as for routing: their grassroots union and its ancestors, or the provincial
    federation of their province and above."""
    workplace = await session.get(Workplace, member.workplace_id) if member.workplace_id else None
    province = member.workplace_other_province_code or member.province_code
    return {unit.id for unit in await worker_path(session, workplace, province)}


async def may_act(session: AsyncSession, member: Member, unit_id: int | None, is_admin: bool) -> bool:
    """Officers of the receiving unit or of any unit above it; admins on everything (and alone on what
    reached no unit)."""
    if is_admin:
        return True
    if unit_id is None:
        return False
    own = await officer_unit_ids(session, member.id)
    return bool(own & {unit.id for unit in await unit_path(session, unit_id)})


async def add_card(session: AsyncSession, kind: str, item_id: int, unit_id: int | None, chat_id: int,
                   message_id: int) -> None:
    session.add(EngagementCard(kind=kind, item_id=item_id, unit_id=unit_id, chat_id=chat_id, message_id=message_id))
    await session.commit()


async def cards_of(session: AsyncSession, kind: str, item_id: int) -> list[EngagementCard]:
    rows = await session.scalars(select(EngagementCard).where(EngagementCard.kind == kind,
                                                              EngagementCard.item_id == item_id)
                                 .order_by(EngagementCard.id))
    return list(rows)


async def card_at(session: AsyncSession, chat_id: int, message_id: int) -> EngagementCard | None:
    return await session.scalar(select(EngagementCard).where(EngagementCard.chat_id == chat_id,
                                                             EngagementCard.message_id == message_id))


def display_name(member: Member | None) -> str | None:
    if member is None:
        return None
    return " ".join(part for part in (member.first_name, member.last_name) if part) or None
