"""The union hierarchy: importing units and workplaces from CSV, and walking the tree."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.provinces import is_valid_province
from bot.text import nfc, search_key
from db.models import Unit, Workplace

COLUMNS = ("kind", "code", "name", "level", "parent", "province", "sector")
# Optional last column: what sort of unit it is. Routing prefers industrial-park unions for housing,
# childcare and cultural spaces; blank means "the usual for its level".
OPTIONAL_COLUMN = "type"
UNIT_TYPES = ("vgcl", "federation", "sector_union", "corporation", "industrial_park", "commune", "grassroots")
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
_SECTOR = re.compile(r"[a-z_]{2,32}")
NAME_LIMIT = 255


@dataclass
class ImportProblem:
    line: int
    message: str


class UnitsImportError(Exception):
    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("\n".join(f"line {p.line}: {p.message}" for p in self.problems))


@dataclass(frozen=True)
class UnitRow:
    line: int
    code: str
    name: str
    level: int
    parent: str | None
    province: int | None
    sector: str | None
    unit_type: str | None = None


@dataclass(frozen=True)
class WorkplaceRow:
    line: int
    code: str
    name: str
    grassroots: str | None
    province: int
    sector: str | None


@dataclass
class ImportResult:
    units_created: int = 0
    units_updated: int = 0
    workplaces_created: int = 0
    workplaces_updated: int = 0


@dataclass
class _Parsed:
    units: list[UnitRow] = field(default_factory=list)
    workplaces: list[WorkplaceRow] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)


def parse_units_csv(text: str, known_levels: dict[str, int] | None = None,
                    known_parents: dict[str, str | None] | None = None) -> tuple[list[UnitRow], list[WorkplaceRow]]:
    """Validate every line; raise UnitsImportError listing all problems, or return the rows.

    `known_levels`/`known_parents` describe units already in the database, which rows may refer to.
    """
    parsed = _read_rows(nfc(text.removeprefix("\ufeff")))
    _check_tree(parsed, known_levels or {}, known_parents or {})
    if parsed.problems:
        raise UnitsImportError(parsed.problems)
    return parsed.units, parsed.workplaces


def _read_rows(text: str) -> _Parsed:
    parsed = _Parsed()
    lines = text.splitlines()
    if not lines:
        parsed.problems.append(ImportProblem(1, "the file is empty"))
        return parsed
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = tuple(cell.strip().lower() for cell in next(reader))
    columns = header if header in (COLUMNS, (*COLUMNS, OPTIONAL_COLUMN)) else None
    if columns is None:
        parsed.problems.append(ImportProblem(1, f"header must be {','.join(COLUMNS)}[,{OPTIONAL_COLUMN}]"))
        return parsed
    seen: dict[tuple[str, str], int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            parsed.problems.append(ImportProblem(line, f"expected {len(columns)} columns, found {len(cells)}"))
            continue
        row = dict(zip(columns, (cell.strip() for cell in cells), strict=True))
        _parse_row(row, line, parsed, seen)
    return parsed


def _parse_row(row: dict[str, str], line: int, parsed: _Parsed, seen: dict[tuple[str, str], int]) -> None:
    problems = len(parsed.problems)

    def problem(message: str) -> None:
        parsed.problems.append(ImportProblem(line, message))

    kind, code = row["kind"].lower(), row["code"].upper()
    if kind not in ("unit", "workplace"):
        problem(f"unknown kind {row['kind']!r} (use unit or workplace)")
        return
    if not _CODE.fullmatch(code):
        problem(f"bad code {row['code']!r}: 1-32 of A-Z 0-9 _ -, starting with a letter or digit")
    elif (kind, code) in seen:
        problem(f"duplicate {kind} code {code} (first on line {seen[(kind, code)]})")
    else:
        seen[(kind, code)] = line
    name = row["name"]
    if not name:
        problem("name is empty")
    elif len(name) > NAME_LIMIT:
        problem(f"name longer than {NAME_LIMIT} characters")
    sector = row["sector"] or None
    if sector and not _SECTOR.fullmatch(sector):
        problem(f"bad sector {sector!r}: lower-case letters and _")
    province = _province(row["province"], problem)
    parent = row["parent"].upper() or None
    unit_type = row.get(OPTIONAL_COLUMN, "").lower() or None
    if unit_type and (kind != "unit" or unit_type not in UNIT_TYPES):
        problem(f"type {unit_type!r}: only units have a type, one of {', '.join(UNIT_TYPES)}")
    if kind == "unit":
        level = _level(row["level"], problem)
        if level is not None and level > 1 and parent is None:
            problem("a unit below level 1 needs a parent code")
        if level == 1 and parent is not None:
            problem("a level-1 unit has no parent")
        if level is not None and level >= 3 and province is None and not row["province"]:
            problem(f"a level-{level} unit needs a province code")
        if len(parsed.problems) == problems and level is not None:
            parsed.units.append(UnitRow(line, code, name, level, parent, province, sector, unit_type))
    else:
        if row["level"]:
            problem("a workplace has no level; leave it empty")
        if province is None and not row["province"]:
            problem("a workplace needs a province code")
        if len(parsed.problems) == problems and province is not None:
            parsed.workplaces.append(WorkplaceRow(line, code, name, parent, province, sector))


def _level(raw: str, problem) -> int | None:  # type: ignore[no-untyped-def]
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 4:
        problem(f"level must be 1, 2, 3 or 4, not {raw!r}")
        return None
    return int(raw)


def _province(raw: str, problem) -> int | None:  # type: ignore[no-untyped-def]
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not is_valid_province(int(raw)):
        problem(f"unknown province code {raw!r} (see the 34 codes of vietnam-provinces)")
        return None
    return int(raw)


def _check_tree(parsed: _Parsed, known_levels: dict[str, int], known_parents: dict[str, str | None]) -> None:
    levels = dict(known_levels) | {row.code: row.level for row in parsed.units}
    parents = dict(known_parents) | {row.code: row.parent for row in parsed.units}
    for row in parsed.units:
        if row.parent is None:
            continue
        if row.parent not in levels:
            parsed.problems.append(ImportProblem(row.line, f"parent {row.parent} is not a known unit"))
        elif levels[row.parent] >= row.level:
            parsed.problems.append(ImportProblem(
                row.line, f"level {row.level} cannot sit under {row.parent} (level {levels[row.parent]})"))
        elif _in_cycle(row.code, parents):
            parsed.problems.append(ImportProblem(row.line, f"{row.code} is part of a cycle of parents"))
    for workplace in parsed.workplaces:
        if workplace.grassroots is None:
            continue
        if workplace.grassroots not in levels:
            parsed.problems.append(ImportProblem(workplace.line, f"grassroots unit {workplace.grassroots} is unknown"))
        elif levels[workplace.grassroots] != 4:
            parsed.problems.append(ImportProblem(
                workplace.line, f"{workplace.grassroots} is not a grassroots (level 4) unit"))


def _in_cycle(code: str, parents: dict[str, str | None]) -> bool:
    seen = {code}
    current = parents.get(code)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


async def import_units(session: AsyncSession, text: str) -> ImportResult:
    """Validate the whole file, then create or update units and workplaces by code, in one commit."""
    existing = {unit.code: unit for unit in (await session.scalars(select(Unit))).all()}
    by_id = {unit.id: unit.code for unit in existing.values()}
    known_levels = {code: unit.level for code, unit in existing.items()}
    known_parents = {code: by_id.get(unit.parent_id) for code, unit in existing.items()}
    unit_rows, workplace_rows = parse_units_csv(text, known_levels, known_parents)
    result = ImportResult()
    for row in unit_rows:
        unit = existing.get(row.code)
        if unit is None:
            unit = Unit(code=row.code)
            session.add(unit)
            existing[row.code] = unit
            result.units_created += 1
        else:
            result.units_updated += 1
        unit.name, unit.level, unit.province_code, unit.sector = row.name, row.level, row.province, row.sector
        unit.unit_type = row.unit_type
    await session.flush()
    for row in unit_rows:
        existing[row.code].parent_id = existing[row.parent].id if row.parent else None
    await _import_workplaces(session, workplace_rows, existing, result)
    await session.commit()
    return result


async def _import_workplaces(session: AsyncSession, rows: list[WorkplaceRow], units: dict[str, Unit],
                             result: ImportResult) -> None:
    existing = {w.code: w for w in (await session.scalars(select(Workplace))).all()}
    for row in rows:
        workplace = existing.get(row.code)
        if workplace is None:
            workplace = Workplace(code=row.code)
            session.add(workplace)
            result.workplaces_created += 1
        else:
            result.workplaces_updated += 1
        workplace.name = row.name
        workplace.search_key = search_key(row.name)
        workplace.province_code = row.province
        workplace.grassroots_unit_id = units[row.grassroots].id if row.grassroots else None


async def get_unit_by_code(session: AsyncSession, code: str) -> Unit | None:
    return await session.scalar(select(Unit).where(Unit.code == code))


async def unit_path(session: AsyncSession, unit_id: int) -> list[Unit]:
    """The unit, then its parent, up to the root (one recursive query)."""
    path = select(Unit.id, Unit.parent_id, literal(0).label("depth")).where(Unit.id == unit_id).cte(
        "path", recursive=True)
    parent = aliased(Unit)
    path = path.union_all(select(parent.id, parent.parent_id, (path.c.depth + 1).label("depth"))
                          .where(parent.id == path.c.parent_id))
    rows = await session.execute(select(Unit).join(path, Unit.id == path.c.id).order_by(path.c.depth))
    return list(rows.scalars())


async def subtree_ids(session: AsyncSession, unit_id: int) -> set[int]:
    """The unit and every unit below it (one recursive query)."""
    tree = select(Unit.id).where(Unit.id == unit_id).cte("tree", recursive=True)
    child = aliased(Unit)
    tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id))
    return set((await session.scalars(select(tree.c.id))).all())
