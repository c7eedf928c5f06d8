"""Every default routing rule and every fallback (content/routing.yaml)."""

import pytest
import yaml

from bot import CONTENT_DIR
from bot.services.categories import category_codes, get_category, is_emergency, proposes_urgent
from bot.services.routing import CaseFacts, PathUnit, RoutingError, decide, default_rules, parse_rules

GRASSROOTS, WARD, PARK, PROVINCE, VGCL = 40, 30, 31, 20, 10


def path(*, grassroots=True, ward_inbox=True, park=False, province_inbox=True, vgcl_inbox=True):
    units = []
    if grassroots:
        units.append(PathUnit(GRASSROOTS, 4, True))
    units.append(PathUnit(PARK, 3, True, industrial_park=True) if park else PathUnit(WARD, 3, ward_inbox))
    units += [PathUnit(PROVINCE, 2, province_inbox), PathUnit(VGCL, 1, vgcl_inbox)]
    return units


@pytest.mark.parametrize(("facts", "rule", "unit", "notify"), [
    (CaseFacts("wages"), "default", GRASSROOTS, ()),
    (CaseFacts("shift_meals", identity="anonymous"), "default", GRASSROOTS, ()),
    (CaseFacts("safety_health", urgent=True), "life_or_safety", WARD, (PROVINCE,)),
    (CaseFacts("wages", collective=True), "collective", WARD, (PROVINCE,)),
    (CaseFacts("contract_dismissal", scope="group", urgent=True), "urgent_group", WARD, (PROVINCE,)),
    (CaseFacts("social_insurance"), "insurance_arrears", WARD, (PROVINCE,)),
    (CaseFacts("health_insurance"), "insurance_arrears", WARD, (PROVINCE,)),
    (CaseFacts("unemployment_insurance"), "insurance_arrears", WARD, (PROVINCE,)),
    (CaseFacts("housing"), "union_institutions", PROVINCE, ()),
    (CaseFacts("childcare"), "union_institutions", PROVINCE, ()),
    (CaseFacts("culture_sports"), "union_institutions", PROVINCE, ()),
    (CaseFacts("wages", identity="confidential"), "confidential", WARD, ()),
    (CaseFacts("wages", has_grassroots=False), "no_grassroots", WARD, ()),
])
def test_default_rules(facts, rule, unit, notify):
    route = decide(facts, path(grassroots=facts.has_grassroots))
    assert (route.rule, route.unit_id, route.notify_unit_ids) == (rule, unit, notify)


def test_confidential_never_reaches_the_grassroots_inbox():
    for category in category_codes():
        for urgent in (False, True):
            route = decide(CaseFacts(category, urgent=urgent, identity="confidential"), path())
            assert route.unit_id != GRASSROOTS


def test_institutions_prefer_the_industrial_park_union():
    route = decide(CaseFacts("housing"), path(park=True))
    assert route.unit_id == PARK


def test_a_unit_without_inbox_passes_the_case_up():
    route = decide(CaseFacts("social_insurance"), path(ward_inbox=False))
    assert route.unit_id == PROVINCE and route.passed_over == (WARD,)
    route = decide(CaseFacts("housing"), path(province_inbox=False))
    assert route.unit_id == VGCL


def test_no_inbox_anywhere_goes_to_the_admins():
    route = decide(CaseFacts("social_insurance"),
                   path(ward_inbox=False, province_inbox=False, vgcl_inbox=False))
    assert route.to_admins and route.passed_over == (WARD, PROVINCE, VGCL)


def test_unknown_workplace_path_starts_at_the_province():
    province_only = [PathUnit(PROVINCE, 2, True), PathUnit(VGCL, 1, True)]
    assert decide(CaseFacts("wages", has_grassroots=False), province_only).unit_id == PROVINCE
    assert decide(CaseFacts("wages", has_grassroots=False), [PathUnit(VGCL, 1, True)]).unit_id == VGCL
    assert decide(CaseFacts("wages", has_grassroots=False), []).to_admins


def test_shipped_rules_are_valid_and_every_rule_can_fire():
    fired = {decide(facts, path(grassroots=facts.has_grassroots)).rule for facts in [
        CaseFacts("safety_health", urgent=True), CaseFacts("wages", collective=True),
        CaseFacts("wages", scope="group", urgent=True), CaseFacts("social_insurance"), CaseFacts("housing"),
        CaseFacts("wages", identity="confidential"), CaseFacts("wages", has_grassroots=False),
        CaseFacts("wages")]}
    assert fired == {rule.name for rule in default_rules()}


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d["rules"][0]["when"].update(category=["nonsense"]), "unknown category"),
    (lambda d: d["rules"][0].update(target="district"), "unknown target level"),
    (lambda d: d["rules"][0].update(notify=["ministry"]), "unknown notify level"),
    (lambda d: d["rules"][0]["when"].update(weather="rain"), "unknown condition"),
    (lambda d: d["rules"].insert(0, {"name": "catch_all", "when": {}, "target": "upper"}), "unreachable"),
    (lambda d: d["rules"].pop(), "last rule must match everything"),
])
def test_bad_rules_are_reported(change, problem):
    data = yaml.safe_load((CONTENT_DIR / "routing.yaml").read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(RoutingError, match=problem):
        parse_rules(data, category_codes())


@pytest.mark.parametrize(("text", "emergency", "urgent"), [
    ("Công ty nợ lương 3 tháng", False, True),
    ("cong ty no luong 3 thang", False, True),
    ("khong dong bhxh cho cong nhan", False, True),
    ("Xưởng 2 ngừng việc từ sáng", False, True),
    ("máy nổ ở xưởng", True, True),
    ("may no o xuong", False, False),          # folded "nổ" is also "nợ": only the accented word counts
    ("xưởng bị cháy", True, True),
    ("chạy máy cả ngày", False, False),         # "chạy" folds like "cháy"
    ("tai nan o xuong 3", True, True),
    ("anh ấy bị ngất khi làm việc", True, True),
    ("ngắt điện giữa ca", False, False),
    ("Đề nghị tăng suất ăn ca", False, False),
])
def test_urgent_and_emergency_words(text, emergency, urgent):
    assert is_emergency(text) is emergency
    assert proposes_urgent(get_category("shift_meals"), text) is urgent


def test_safety_category_is_urgent_by_itself():
    assert proposes_urgent(get_category("safety_health"), "Nóng quá, không có quạt")


def test_content_check_covers_categories_routing_and_sla():
    from bot.services.content_check import check_categories, check_routing, check_sla

    assert check_categories() == [] and check_routing() == [] and check_sla() == []
