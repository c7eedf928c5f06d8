import pytest
from sqlalchemy import func, select

from bot import CONTENT_DIR
from bot.services.units import UnitsImportError, import_units, parse_units_csv, subtree_ids, unit_path
from db.models import Unit, Workplace

DEMO = (CONTENT_DIR / "demo" / "units.csv").read_text(encoding="utf-8")
HEADER = "kind,code,name,level,parent,province,sector\n"


async def count(session, model):
    return await session.scalar(select(func.count()).select_from(model))


async def test_demo_imports_and_reimports_in_place(session):
    first = await import_units(session, DEMO)
    assert (first.units_created, first.workplaces_created) == (23, 15)
    garment = await session.scalar(select(Unit).where(Unit.code == "CDCS-MAYSH"))
    renamed = DEMO.replace("Công đoàn cơ sở Công ty TNHH May Sông Hồng Hà Nội", "CĐCS May Sông Hồng")
    second = await import_units(session, renamed)
    assert (second.units_created, second.units_updated, second.workplaces_created) == (0, 23, 0)
    assert await count(session, Unit) == 23 and await count(session, Workplace) == 15
    session.expire_all()
    again = await session.scalar(select(Unit).where(Unit.code == "CDCS-MAYSH"))
    assert again.id == garment.id and again.name == "CĐCS May Sông Hồng"


async def test_demo_has_the_hierarchy_the_product_needs(session):
    await import_units(session, DEMO)
    units = (await session.scalars(select(Unit))).all()
    levels = [u.level for u in units]
    assert levels.count(1) == 1 and levels.count(2) >= 4 and levels.count(4) >= 8
    assert {1, 24, 79} <= {u.province_code for u in units if u.level == 2}
    without = await session.scalar(select(func.count()).select_from(Workplace)
                                   .where(Workplace.grassroots_unit_id.is_(None)))
    assert without >= 4


async def test_unit_path_goes_up_to_vgcl(session):
    await import_units(session, DEMO)
    garment = await session.scalar(select(Unit).where(Unit.code == "CDCS-MAYSH"))
    assert [u.code for u in await unit_path(session, garment.id)] == [
        "CDCS-MAYSH", "CDP-LONGBIEN", "LDLD-HN", "VGCL"]


async def test_subtree_contains_descendants_only(session):
    await import_units(session, DEMO)
    codes = {u.id: u.code for u in (await session.scalars(select(Unit))).all()}
    hanoi = next(i for i, c in codes.items() if c == "LDLD-HN")
    subtree = {codes[i] for i in await subtree_ids(session, hanoi)}
    assert {"LDLD-HN", "KCN-HN", "CDCS-MAYSH", "CDCS-DIENTUTL"} <= subtree
    assert "CDCS-GIAYBT" not in subtree and "VGCL" not in subtree


@pytest.mark.parametrize(("line", "expected"), [
    ("unit,X1,Một,5,VGCL,,", "level must be"),
    ("unit,X1,Một,two,VGCL,,", "level must be"),
    ("unit,X1,Một,2,,,", "needs a parent"),
    ("unit,X1,Một,2,NOPE,,", "not a known unit"),
    ("unit,X1,Một,1,VGCL,,", "no parent"),
    ("unit,x 1,Một,2,VGCL,,", "bad code"),
    ("unit,VGCL,Trùng,1,,,", "duplicate"),
    ("unit,X1,,2,VGCL,,", "name is empty"),
    ("unit,X1," + "A" * 300 + ",2,VGCL,,", "longer than"),
    ("unit,X1,Một,3,VGCL,02,", "unknown province"),
    ("unit,X1,Một,3,VGCL,,", "needs a province"),
    ("group,X1,Một,3,VGCL,1,", "unknown kind"),
    ("unit,X1,Một,3,VGCL,1", "expected 7 columns"),
    ("workplace,W1,Xưởng,,NOPE,1,", "is unknown"),
    ("workplace,W1,Xưởng,,VGCL,1,", "not a grassroots"),
    ("workplace,W1,Xưởng,,,,", "needs a province"),
    ("workplace,W1,Xưởng,4,,1,", "has no level"),
])
def test_each_rule_reports_its_line(line, expected):
    text = HEADER + "unit,VGCL,Tổng Liên đoàn,1,,,\n" + line + "\n"
    with pytest.raises(UnitsImportError) as error:
        parse_units_csv(text)
    assert any(p.line == 3 and expected in p.message for p in error.value.problems), error.value.problems


def test_level_must_be_below_the_parent_and_cycles_are_caught():
    text = HEADER + ("unit,VGCL,Tổng,1,,,\n"
                     "unit,A,A,3,B,1,\n"
                     "unit,B,B,4,A,1,\n"
                     "unit,C,C,2,VGCL,,\n"
                     "unit,D,D,2,C,,\n")
    with pytest.raises(UnitsImportError) as error:
        parse_units_csv(text)
    lines = {p.line for p in error.value.problems}
    assert {3, 6} <= lines  # A under a level-4 B; D at the same level as C


async def test_a_bad_file_imports_nothing_and_lists_every_bad_line(session):
    bad = HEADER + "unit,VGCL,Tổng,1,,,\nunit,X1,Một,9,VGCL,,\nunit,X2,Hai,2,NOPE,,\nworkplace,W,Xưởng,,,99,\n"
    with pytest.raises(UnitsImportError) as error:
        await import_units(session, bad)
    assert [p.line for p in error.value.problems] == [3, 4, 5]
    assert await count(session, Unit) == 0 and await count(session, Workplace) == 0


async def test_rows_may_refer_to_units_already_in_the_database(session):
    await import_units(session, DEMO)
    extra = HEADER + "unit,CDCS-NEW,CĐCS Mới,4,KCN-BN,24,\nworkplace,WP-NEW,Xưởng mới,,CDCS-NEW,24,\n"
    result = await import_units(session, extra)
    assert (result.units_created, result.workplaces_created) == (1, 1)


def test_semicolons_bom_and_decomposed_text_are_accepted():
    import unicodedata

    text = "\ufeff" + unicodedata.normalize("NFD", HEADER.replace(",", ";") + "unit;VGCL;Tổng Liên đoàn;1;;;\n")
    units, _ = parse_units_csv(text)
    assert units[0].name == "Tổng Liên đoàn"


async def test_optional_type_column(session):
    await import_units(session, DEMO)
    park = await session.scalar(select(Unit).where(Unit.code == "KCN-BN"))
    assert park.unit_type == "industrial_park"
    with pytest.raises(UnitsImportError) as error:
        parse_units_csv(HEADER.strip() + ",type\nunit,VGCL,Tổng,1,,,,planet\nworkplace,W,Xưởng,,,1,,commune\n")
    assert [p.line for p in error.value.problems] == [2, 3]
