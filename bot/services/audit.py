"""The audit log: ids and codes only, never message text."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditLog


def record(session: AsyncSession, actor: str, action: str, subject: str | None = None,
           **detail: Any) -> None:
    """Add an audit row to the session; it is committed with the change it describes."""
    session.add(AuditLog(actor=actor, action=action, subject=subject, detail=detail or None))


def member_actor(member_id: int) -> str:
    return f"member:{member_id}"
