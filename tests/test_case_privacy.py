"""Property: for any profile, an anonymous case's officer view carries none of the worker's identity, and a
confidential one shows it only above the grassroots level."""

import asyncio
import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from bot import CONTENT_DIR
from bot.services.case_views import may_see_identity, officer_view
from bot.services.grievances import CaseDraft, submit_case
from bot.services.units import import_units
from db.migrate import upgrade_database
from db.models import Member, Unit
from db.session import create_engine, create_session_factory

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=VN)
# "Qz" keeps a random name from matching the fixed words of the case by chance ("ông" in "Công ty").
names = st.text(alphabet=st.characters(categories=("L",)), min_size=2, max_size=30).map(lambda n: "Qz" + n)
usernames = st.from_regex(r"[a-z][a-z0-9_]{4,20}", fullmatch=True)
phones = st.from_regex(r"\+849[0-9]{8}", fullmatch=True)


def test_identity_rules():
    assert may_see_identity("named", 4) and may_see_identity("named", None)
    assert not may_see_identity("confidential", 4) and may_see_identity("confidential", 3)
    assert not any(may_see_identity("anonymous", level) for level in (None, 1, 2, 3, 4))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=names, last=names, username=usernames, phone=phones, telegram_id=st.integers(10**6, 10**10),
       identity=st.sampled_from(["anonymous", "confidential"]))
def test_officer_views_never_leak_a_protected_identity(tmp_path, first, last, username, phone, telegram_id,
                                                      identity):
    asyncio.run(_check(tmp_path, first, last, username, phone, telegram_id, identity))


_prepared: dict[str, str] = {}
_ids = itertools.count(1)


async def _database(tmp_path) -> str:
    if "url" not in _prepared:
        url = f"sqlite+aiosqlite:///{tmp_path / 'privacy.db'}"
        await upgrade_database(url)
        engine = create_engine(url)
        async with create_session_factory(engine)() as session:
            await import_units(session, (CONTENT_DIR / "demo" / "units.csv").read_text(encoding="utf-8"))
            await session.execute(update(Unit).values(inbox_chat_id=-Unit.id))
            await session.commit()
        await engine.dispose()
        _prepared["url"] = url
    return _prepared["url"]


async def _check(tmp_path, first, last, username, phone, telegram_id, identity):
    engine = create_engine(await _database(tmp_path))
    try:
        async with create_session_factory(engine)() as session:
            telegram_id += next(_ids) * 10**11  # unique across examples sharing the database
            member = Member(telegram_id=telegram_id, first_name=first, last_name=last, username=username,
                            phone=phone, language="vi", consent_version="2026.1")
            session.add(member)
            await session.commit()
            submitted = await submit_case(session, member, CaseDraft(
                "wages", "Công ty trả lương chậm ba tuần", identity=identity, province_code=1), NOW, VN)
            for level in (4, 3, 2, 1, None):
                view = await officer_view(session, submitted.grievance, level)
                shown = repr(view)
                leaks = [value for value in (first, last, username, phone, str(telegram_id)) if value in shown]
                if identity == "anonymous" or level == 4:
                    assert view.reporter is None and leaks == [], (identity, level, leaks)
                else:
                    assert view.reporter is not None and view.reporter.username == username
    finally:
        await engine.dispose()
