"""The demo data every sandbox, bench and transcript test starts from."""

from __future__ import annotations

from bot import CONTENT_DIR
from bot.services.units import ImportResult, import_units
from db.session import create_engine, create_session_factory

DEMO_UNITS = CONTENT_DIR / "demo" / "units.csv"


async def load_demo_units(database_url: str) -> ImportResult:
    """Import content/demo/units.csv into an already migrated database."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return await import_units(session, DEMO_UNITS.read_text(encoding="utf-8"))
    finally:
        await engine.dispose()
