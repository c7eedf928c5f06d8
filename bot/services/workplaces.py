"""Finding workplaces by what a worker types: diacritic-insensitive and typo-tolerant."""

from __future__ import annotations

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.text import search_key
from db.models import Workplace

_MIN_SCORE = 60.0


async def search_workplaces(session: AsyncSession, typed: str, province_code: int | None = None,
                            limit: int = 6) -> list[Workplace]:
    """Best matches first; workplaces in the worker's province win ties."""
    query = search_key(typed)
    if not query:
        return []
    rows = (await session.execute(select(Workplace.id, Workplace.search_key, Workplace.province_code))).all()
    keys = {row.id: row.search_key for row in rows}
    provinces = {row.id: row.province_code for row in rows}
    matches = process.extract(query, keys, scorer=_score, limit=limit * 3, score_cutoff=_MIN_SCORE)
    ranked = sorted(matches, key=lambda m: (-(m[1] + (5 if provinces[m[2]] == province_code else 0)), m[2]))
    ids = [match[2] for match in ranked[:limit]]
    if not ids:
        return []
    found = {w.id: w for w in (await session.scalars(select(Workplace).where(Workplace.id.in_(ids)))).all()}
    return [found[i] for i in ids]


def _score(query: str, key: str, **_: object) -> float:
    # token_set handles "may song hong" inside "cong ty tnhh may song hong"; partial handles prefixes.
    return max(fuzz.token_set_ratio(query, key), fuzz.partial_ratio(query, key) * 0.95)


async def get_workplace_by_code(session: AsyncSession, code: str) -> Workplace | None:
    return await session.scalar(select(Workplace).where(Workplace.code == code))
