"""Project-wide fixtures: every DB-touching test runs on SQLite and on a real PostgreSQL server.

Backends: CONGDOAN_TEST_BACKENDS=sqlite,postgresql (default: both when PostgreSQL binaries exist).
CONGDOAN_REQUIRE_POSTGRES=1 (set by .ci/run) turns a missing PostgreSQL into a failure, not a skip.
TEST_POSTGRES_URL=postgresql+asyncpg://user@host:port/postgres uses an existing server instead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.migrate import upgrade_database
from db.session import create_engine, create_session_factory
from sandbox import postgres

_database_numbers = itertools.count(1)
_pg_skip_reason: str | None = None


def _requested_backends() -> list[str]:
    raw = os.environ.get("CONGDOAN_TEST_BACKENDS", "sqlite,postgresql")
    return [name.strip() for name in raw.split(",") if name.strip()]


def pytest_report_header(config: pytest.Config) -> str:
    return f"congdoan database backends: {', '.join(_requested_backends())}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    if _pg_skip_reason:
        terminalreporter.write_line(f"PostgreSQL backend SKIPPED: {_pg_skip_reason}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str | None]:
    global _pg_skip_reason
    if "postgresql" not in _requested_backends():
        _pg_skip_reason = "not requested in CONGDOAN_TEST_BACKENDS"
        yield None
        return
    if url := os.environ.get("TEST_POSTGRES_URL"):
        yield url
        return
    try:
        cluster = postgres.start_cluster()
    except Exception as exc:  # noqa: BLE001 - reported below, or fatal in CI
        if os.environ.get("CONGDOAN_REQUIRE_POSTGRES") == "1":
            raise
        _pg_skip_reason = f"could not start a throwaway cluster ({exc})"
        yield None
        return
    try:
        yield cluster.admin_url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def migrated_templates(pg_admin_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Migrate once per backend; each test then copies the result (file copy / CREATE DATABASE TEMPLATE)."""
    templates: dict[str, str] = {}
    if "sqlite" in _requested_backends():
        path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
        asyncio.run(upgrade_database(f"sqlite+aiosqlite:///{path}"))
        templates["sqlite"] = str(path)
    if pg_admin_url:
        asyncio.run(_create_pg_template(pg_admin_url))
        templates["postgresql"] = pg_admin_url
    return templates


async def _create_pg_template(admin_url: str) -> None:
    admin = create_engine(admin_url)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("DROP DATABASE IF EXISTS congdoan_template"))
        await conn.execute(text("CREATE DATABASE congdoan_template"))
    await admin.dispose()
    await upgrade_database(admin_url.rsplit("/", 1)[0] + "/congdoan_template")


def _backend_params() -> list[object]:
    return [pytest.param(name, id=name) for name in _requested_backends()]


@pytest.fixture(params=_backend_params())
def db_url(request: pytest.FixtureRequest, migrated_templates: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test, on each backend."""
    backend = request.param
    if backend not in migrated_templates:
        pytest.skip(f"{backend} backend unavailable: {_pg_skip_reason}")
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(migrated_templates["sqlite"], path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    admin_url = migrated_templates["postgresql"]
    name = f"congdoan_test_{os.getpid()}_{next(_database_numbers)}"
    asyncio.run(_pg_admin(admin_url, f"CREATE DATABASE {name} TEMPLATE congdoan_template"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_pg_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _pg_admin(admin_url: str, statement: str) -> None:
    admin = create_engine(admin_url)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(statement))
    await admin.dispose()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_session_factory(engine)() as session:
        yield session
