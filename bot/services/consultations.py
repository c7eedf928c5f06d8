"""Consultations (góp ý): an admin opens one on a draft law or policy from a YAML file (title, summary, an
optional document link, a deadline in the union's time zone, the audience and the owning unit); members of
the audience send comments, named or anonymous, until the deadline; every comment goes to the owning unit's
inbox; an export collects them all (XLSX or CSV), identity columns empty for anonymous comments.

A file looks like:

    slug: luat-bhxh-2026
    title: Góp ý dự thảo Nghị định hướng dẫn Luật Bảo hiểm xã hội
    summary: |
      Bộ Nội vụ lấy ý kiến về …
    document: https://example.gov.vn/du-thao.pdf   # optional
    deadline: 2026-12-15 17:00                       # Asia/Ho_Chi_Minh
    audience: all                                    # or province:1, or unit:LDLD-HN
    owner: LDLD-HN
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.services.engagement import Refused, display_name, member_unit_ids
from bot.services.provinces import get_province, is_valid_province
from bot.services.units import get_unit_by_code, unit_path
from bot.text import nfc
from db.models import Consultation, ConsultationComment, Member, Unit, Workplace

KIND = "comment"
COMMENT_LIMITS = (5, 3000)
SUMMARY_LIMIT = 3000
IDENTITIES = ("named", "anonymous")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,47}")
_DEADLINE_FORMATS = ("%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%Y-%m-%d", "%d/%m/%Y")
EXPORT_HEADER = ("comment_id", "sent_at", "identity", "name", "username", "phone", "workplace", "province", "text")


class SpecError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Spec:
    slug: str
    title: str
    summary: str
    document_url: str | None
    deadline: datetime
    audience: str  # all | province | unit
    audience_province: int | None
    audience_unit_code: str | None
    owner_code: str


def parse_spec(data: Any, tz: ZoneInfo) -> Spec:
    """Validate a consultation file's content; raises SpecError listing every problem."""
    if not isinstance(data, dict):
        raise SpecError(["the file must be a mapping of fields (slug, title, summary, deadline, audience, owner)"])
    problems: list[str] = []
    text = {key: nfc(str(data.get(key) or "")).strip() for key in ("slug", "title", "summary", "document", "owner")}
    if not _SLUG.fullmatch(text["slug"]):
        problems.append("slug: 2-48 of a-z 0-9 -, starting with a letter or digit")
    if not 1 <= len(text["title"]) <= 255:
        problems.append("title: 1-255 characters")
    if not 1 <= len(text["summary"]) <= SUMMARY_LIMIT:
        problems.append(f"summary: 1-{SUMMARY_LIMIT} characters")
    document = text["document"] or None
    if document is not None and (not document.startswith("https://") or len(document) > 500 or " " in document):
        problems.append("document: an https:// link of at most 500 characters")
    deadline = _deadline(data.get("deadline"), tz)
    if deadline is None:
        problems.append("deadline: a date and time like 2026-12-15 17:00 (Asia/Ho_Chi_Minh)")
    audience, province, unit_code = _audience(data.get("audience", "all"), problems)
    if not text["owner"]:
        problems.append("owner: the code of the unit that receives the comments")
    if problems:
        raise SpecError(problems)
    return Spec(text["slug"], text["title"], text["summary"], document, deadline, audience, province, unit_code,
                text["owner"].upper())


def _deadline(raw: Any, tz: ZoneInfo) -> datetime | None:
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=tz) if raw.tzinfo is None else raw
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, 23, 59, tzinfo=tz)
    for pattern in _DEADLINE_FORMATS:
        try:
            parsed = datetime.strptime(str(raw).strip(), pattern)
        except ValueError:
            continue
        if len(pattern) <= 8:  # a date alone: the end of that day
            parsed = parsed.replace(hour=23, minute=59)
        return parsed.replace(tzinfo=tz)
    return None


def _audience(raw: Any, problems: list[str]) -> tuple[str, int | None, str | None]:
    value = str(raw).strip()
    if value == "all":
        return "all", None, None
    kind, _, rest = value.partition(":")
    if kind == "province" and rest.strip().isascii() and rest.strip().isdigit() and is_valid_province(int(rest)):
        return "province", int(rest), None
    if kind == "unit" and rest.strip():
        return "unit", None, rest.strip().upper()
    problems.append("audience: all, province:<code> (e.g. province:1) or unit:<UNIT_CODE>")
    return "all", None, None


def load_spec_file(path: Path, tz: ZoneInfo) -> Spec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise SpecError([f"not valid YAML: {error}"]) from None
    return parse_spec(data, tz)


async def open_consultation(session: AsyncSession, spec: Spec, actor: str, now: datetime) -> tuple[Consultation, bool]:
    """Create it, or update the one with that slug (e.g. to move the deadline). Returns (it, created)."""
    problems = []
    owner = await get_unit_by_code(session, spec.owner_code)
    if owner is None:
        problems.append(f"owner: no unit with code {spec.owner_code}")
    audience_unit = await get_unit_by_code(session, spec.audience_unit_code) if spec.audience_unit_code else None
    if spec.audience_unit_code and audience_unit is None:
        problems.append(f"audience: no unit with code {spec.audience_unit_code}")
    if spec.deadline <= now:
        problems.append("deadline: already passed")
    if problems:
        raise SpecError(problems)
    consultation = await session.scalar(select(Consultation).where(Consultation.slug == spec.slug))
    created = consultation is None
    if consultation is None:
        consultation = Consultation(slug=spec.slug, opened_by=actor, opened_at=now)
        session.add(consultation)
    consultation.title, consultation.summary, consultation.document_url = spec.title, spec.summary, spec.document_url
    consultation.deadline, consultation.audience = spec.deadline, spec.audience
    consultation.audience_province = spec.audience_province
    consultation.audience_unit_id = audience_unit.id if audience_unit else None
    consultation.owner_unit_id = owner.id
    consultation.updated_at = now
    await session.flush()
    audit.record(session, actor, "consultation.opened" if created else "consultation.updated",
                 f"consultation:{consultation.id}", slug=spec.slug)
    await session.commit()
    return consultation, created


def is_open(consultation: Consultation, now: datetime) -> bool:
    return now < consultation.deadline


def _member_province(member: Member, workplace: Workplace | None) -> int | None:
    return (workplace.province_code if workplace else None) or member.workplace_other_province_code \
        or member.province_code


async def in_audience(session: AsyncSession, member: Member, consultation: Consultation) -> bool:
    if consultation.audience == "all":
        return True
    if consultation.audience == "province":
        workplace = await session.get(Workplace, member.workplace_id) if member.workplace_id else None
        return _member_province(member, workplace) == consultation.audience_province
    return consultation.audience_unit_id in await member_unit_ids(session, member)


def may_take_part(member: Member) -> str | None:
    if not member.has_consent or member.onboarded_at is None:
        return "needs_profile"
    return None


async def open_for(session: AsyncSession, member: Member, now: datetime) -> list[Consultation]:
    """Consultations this member may comment on now, the nearest deadline first."""
    rows = await session.scalars(select(Consultation).where(Consultation.deadline > now)
                                 .order_by(Consultation.deadline, Consultation.id))
    return [c for c in rows if await in_audience(session, member, c)]


async def check_may_comment(session: AsyncSession, member: Member, consultation: Consultation,
                            now: datetime) -> None:
    reason = may_take_part(member)
    if reason is None and not is_open(consultation, now):
        reason = "closed"
    if reason is None and not await in_audience(session, member, consultation):
        reason = "not_audience"
    if reason is not None:
        raise Refused(reason)


async def add_comment(session: AsyncSession, member: Member, consultation: Consultation, text: str,
                      identity: str, now: datetime) -> ConsultationComment:
    """Store a comment (the deadline is checked again here); committed before the member hears back."""
    await check_may_comment(session, member, consultation, now)
    low, high = COMMENT_LIMITS
    if identity not in IDENTITIES or not low <= len(text) <= high:
        raise Refused("bad_draft")
    workplace = await session.get(Workplace, member.workplace_id) if member.workplace_id else None
    comment = ConsultationComment(consultation_id=consultation.id, member_id=member.id, identity=identity,
                                  text=text, language=member.language,
                                  province_code=_member_province(member, workplace), created_at=now)
    session.add(comment)
    await session.flush()
    audit.record(session, audit.member_actor(member.id), "consultation.commented", f"comment:{comment.id}",
                 consultation=consultation.id, identity=identity)
    await session.commit()
    return comment


async def receiving_unit(session: AsyncSession, consultation: Consultation) -> Unit | None:
    """The owning unit, or the nearest unit above it with an inbox; None: the admins."""
    return next((unit for unit in await unit_path(session, consultation.owner_unit_id)
                 if unit.inbox_chat_id is not None), None)


@dataclass(frozen=True)
class CommentView:
    """A comment as officers see it: the author only when it was sent named."""

    id: int
    title: str
    text: str
    identity: str
    name: str | None
    username: str | None
    province: str | None


async def comment_view(session: AsyncSession, comment: ConsultationComment) -> CommentView:
    consultation = await session.get_one(Consultation, comment.consultation_id)
    member = await session.get(Member, comment.member_id) if comment.member_id and comment.identity == "named" \
        else None
    province = get_province(comment.province_code) if comment.province_code else None
    return CommentView(comment.id, consultation.title, comment.text, comment.identity, display_name(member),
                       member.username if member else None, province.name if province else None)


async def export_rows(session: AsyncSession, slug: str, tz: ZoneInfo) -> tuple[Consultation, list[tuple[Any, ...]]]:
    """Every comment, oldest first, as rows under EXPORT_HEADER; identity columns empty when anonymous."""
    consultation = await session.scalar(select(Consultation).where(Consultation.slug == slug))
    if consultation is None:
        raise SpecError([f"no consultation with slug {slug}"])
    rows = await session.execute(
        select(ConsultationComment, Member, Workplace)
        .outerjoin(Member, Member.id == ConsultationComment.member_id)
        .outerjoin(Workplace, Workplace.id == Member.workplace_id)
        .where(ConsultationComment.consultation_id == consultation.id)
        .order_by(ConsultationComment.created_at, ConsultationComment.id))
    result = []
    for comment, member, workplace in rows:
        named = comment.identity == "named" and member is not None
        province = get_province(comment.province_code) if comment.province_code else None
        result.append((
            comment.id, comment.created_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"), comment.identity,
            display_name(member) if named else "", (member.username or "") if named else "",
            (member.phone or "") if named else "",
            ((workplace.name if workplace else member.workplace_other_name) or "") if named else "",
            province.name if province else "", comment.text))
    return consultation, result


def write_csv(path: Path, rows: list[tuple[Any, ...]]) -> None:
    """UTF-8 with a byte-order mark, so spreadsheet programs read the Vietnamese letters right; text that a
    spreadsheet would run as a formula gets a leading apostrophe (which spreadsheets hide)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_HEADER)
        writer.writerows([[_csv_cell(value) for value in row] for row in rows])


def write_xlsx(path: Path, consultation: Consultation, rows: list[tuple[Any, ...]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "comments"
    sheet.append(EXPORT_HEADER)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # typed text starting with "=": kept as text, never run as a formula
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    info = workbook.create_sheet("consultation")
    for key, value in (("slug", consultation.slug), ("title", consultation.title),
                       ("deadline", consultation.deadline.isoformat()), ("comments", len(rows))):
        info.append([key, value])
    workbook.save(path)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
