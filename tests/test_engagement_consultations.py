"""Consultation files as admins write them: every problem listed at once, deadlines in the union's time
zone, audiences."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.services.consultations import SpecError, parse_spec

VN = ZoneInfo("Asia/Ho_Chi_Minh")
GOOD = {"slug": "du-thao-1", "title": "Dự thảo", "summary": "Tóm tắt", "deadline": "2026-12-15 17:00",
        "audience": "all", "owner": "ldld-hn"}


def test_a_good_file():
    spec = parse_spec(GOOD, VN)
    assert spec.deadline == datetime(2026, 12, 15, 17, 0, tzinfo=VN) and spec.owner_code == "LDLD-HN"
    assert (spec.audience, spec.audience_province, spec.audience_unit_code, spec.document_url) == (
        "all", None, None, None)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-12-15 17:00", datetime(2026, 12, 15, 17, 0, tzinfo=VN)),
    ("15/12/2026 08:30", datetime(2026, 12, 15, 8, 30, tzinfo=VN)),
    ("15/12/2026", datetime(2026, 12, 15, 23, 59, tzinfo=VN)),
])
def test_deadlines_as_typed(raw, expected):
    assert parse_spec({**GOOD, "deadline": raw}, VN).deadline == expected


def test_yaml_dates_and_times_are_local():
    data = yaml.safe_load("deadline: 2026-12-15 17:00:00\n")
    assert parse_spec({**GOOD, **data}, VN).deadline == datetime(2026, 12, 15, 17, 0, tzinfo=VN)
    data = yaml.safe_load("deadline: 2026-12-15\n")
    assert parse_spec({**GOOD, **data}, VN).deadline == datetime(2026, 12, 15, 23, 59, tzinfo=VN)


@pytest.mark.parametrize(("audience", "parsed"), [
    ("province:1", ("province", 1, None)), ("province:79", ("province", 79, None)),
    ("unit:cdcs-maysh", ("unit", None, "CDCS-MAYSH")),
])
def test_audiences(audience, parsed):
    spec = parse_spec({**GOOD, "audience": audience}, VN)
    assert (spec.audience, spec.audience_province, spec.audience_unit_code) == parsed


def test_every_problem_is_listed():
    with pytest.raises(SpecError) as raised:
        parse_spec({"slug": "X Y", "summary": "s" * 3001, "document": "http://insecure", "deadline": "mai",
                    "audience": "province:99"}, VN)
    fields = [problem.split(":")[0] for problem in raised.value.problems]
    assert fields == ["slug", "title", "summary", "document", "deadline", "audience", "owner"]
    with pytest.raises(SpecError):
        parse_spec(["not", "a", "mapping"], VN)
