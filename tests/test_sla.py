from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.services.sla import add_working_days, deadlines, default_config, parse_config

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(*args):
    return datetime(*args, tzinfo=VN)


def test_urgent_acknowledge_in_four_clock_hours_even_at_night_or_weekend():
    due = deadlines(vn(2026, 11, 28, 22, 0), urgent=True, level=3, tz=VN)  # a Saturday night
    assert due.acknowledge_by == vn(2026, 11, 29, 2, 0)


def test_normal_deadlines_count_working_days():
    due = deadlines(vn(2026, 11, 27, 15, 30), urgent=False, level=4, tz=VN)  # a Friday afternoon
    assert due.acknowledge_by == vn(2026, 12, 1, 15, 30)  # Mon is day 1, Tue day 2
    assert due.resolve_by == vn(2026, 12, 11, 15, 30)  # ten working days


def test_a_weekend_start_counts_from_monday_morning():
    assert add_working_days(vn(2026, 11, 29, 21, 0), 1, VN) == vn(2026, 12, 1, 8, 0)


def test_holidays_and_level_overrides():
    config = parse_config({"collective_threshold": 5,
                           "defaults": {"urgent": {"acknowledge_hours": 4, "resolve_days": 3},
                                        "normal": {"acknowledge_days": 2, "resolve_days": 10}},
                           "levels": {"provincial": {"normal": {"acknowledge_days": 3}}},
                           "holidays": ["2026-12-01"]})
    assert add_working_days(vn(2026, 11, 30, 9, 0), 1, VN, config.holidays) == vn(2026, 12, 2, 9, 0)
    assert deadlines(vn(2026, 11, 30, 9, 0), False, 2, VN, config).acknowledge_by == vn(2026, 12, 4, 9, 0)
    assert date(2026, 12, 1) in config.holidays


def test_shipped_config():
    assert default_config().collective_threshold == 5
