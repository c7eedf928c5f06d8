"""Quiz and contest files: what the loader accepts and what `content check` reports, file by file; points."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.services import quizzes
from bot.services.content_check import check_all
from db.models import Member, Point
from db.types import utcnow

FIXTURES = Path(__file__).parent / "fixtures" / "quizzes"
CONTEST = FIXTURES / "contests" / "luat-cong-doan-2026.yaml"


def question(**changes):
    base = {"question": {"vi": "Câu hỏi?", "en": "Question?"},
            "options": [{"vi": "Có", "en": "Yes"}, {"vi": "Không", "en": "No"}],
            "correct": 0, "explanation": {"vi": "Vì vậy.", "en": "Because."}}
    base.update(changes)
    return base


def quiz_file(tmp_path: Path, slug: str = "demo-quiz", topic: str = "labour_code", **question_changes) -> Path:
    path = tmp_path / f"{slug}.yaml"
    path.write_text(yaml.safe_dump({"slug": slug, "topic": topic, "title": {"vi": "Thử", "en": "Try"},
                                    "questions": [question(**question_changes)]}, allow_unicode=True),
                    encoding="utf-8")
    return path


def problems_for(tmp_path: Path, **question_changes) -> list[str]:
    quiz_file(tmp_path, **question_changes)
    return quizzes.load_quizzes(tmp_path, tmp_path / "no-topics.yaml").problems


def test_the_fixtures_load_without_problems():
    loaded = quizzes.load_quizzes(FIXTURES)
    assert loaded.problems == []
    assert sorted(loaded.quizzes) == ["labour-code-basics", "trade-union-law-2024"]
    spec, problems = quizzes.load_contest(CONTEST, loaded.quizzes)
    assert problems == [] and spec.questions_per_attempt == 3 and spec.attempts == 2
    assert spec.rounds[0].starts_at.isoformat() == "2026-12-01T08:00:00+07:00"
    assert quizzes.check_files(FIXTURES, FIXTURES / "contests", FIXTURES / "none.yaml") == []


def test_a_valid_question_loads_with_both_languages(tmp_path):
    assert problems_for(tmp_path) == []
    loaded = quizzes.load_quizzes(tmp_path)
    q = loaded.quizzes["demo-quiz"].questions[0]
    assert q.option(1, "en") == "No" and q.in_language("explanation", "vi") == "Vì vậy."


def test_each_rule_is_reported_with_its_file_and_place(tmp_path):
    cases = {
        "questions[0].question: vi text must be 1–300": {"question": {"vi": "x" * 301}},
        "questions[0].options: needs 2–10 options": {"options": [{"vi": "Một"}]},
        "questions[0].options[1]: vi text must be 1–100": {"options": [{"vi": "A"}, {"vi": "b" * 101}]},
        "questions[0].correct: must be one option index": {"correct": 2},
        "questions[0].explanation: vi text must be 1–200": {"explanation": {"vi": "e" * 201}},
    }
    for index, (expected, change) in enumerate(cases.items()):
        folder = tmp_path / str(index)
        folder.mkdir()
        found = problems_for(folder, **change)
        assert len(found) == 1 and expected in found[0] and "demo-quiz.yaml" in found[0], (expected, found)
    eleven = tmp_path / "eleven"
    eleven.mkdir()
    assert "needs 2–10 options" in problems_for(eleven, options=[{"vi": str(i)} for i in range(11)])[0]


def test_a_boolean_or_missing_correct_index_is_refused(tmp_path):
    assert "correct" in problems_for(tmp_path, correct=True)[0]
    assert "correct" in problems_for(tmp_path, correct=None)[0]


def test_the_topic_must_be_known_when_topics_exist(tmp_path):
    topics = tmp_path / "topics.yaml"
    topics.write_text("topics:\n  - code: labour_code\n", encoding="utf-8")
    quizzes_dir = tmp_path / "q"
    quizzes_dir.mkdir()
    quiz_file(quizzes_dir, topic="cooking")
    found = quizzes.load_quizzes(quizzes_dir, topics).problems
    assert len(found) == 1 and "unknown topic 'cooking'" in found[0]
    assert quizzes.load_quizzes(quizzes_dir, tmp_path / "absent.yaml").problems == []


def test_slug_must_match_the_file_and_bad_yaml_is_reported(tmp_path):
    path = quiz_file(tmp_path)
    path.rename(tmp_path / "other-name.yaml")
    (tmp_path / "broken.yaml").write_text("slug: [unclosed", encoding="utf-8")
    found = quizzes.load_quizzes(tmp_path).problems
    assert any("broken.yaml: cannot be read" in p for p in found)
    assert any("differs from the file name" in p for p in found)
    assert quizzes.load_quizzes(tmp_path).quizzes == {}


def test_contest_rules(tmp_path):
    loaded = quizzes.load_quizzes(FIXTURES)
    data = yaml.safe_load(CONTEST.read_text(encoding="utf-8"))
    data["quizzes"].append("missing-quiz")
    data["questions_per_attempt"] = 40
    data["rounds"] = [{"number": 1, "starts": "2026-12-07T08:00", "ends": "2026-12-01T08:00"},
                      {"number": 1, "starts": "someday", "ends": "2026-12-09T08:00"}]
    data["attempts"] = 0
    path = tmp_path / "contest.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    spec, problems = quizzes.load_contest(path, loaded.quizzes)
    assert spec is None
    text = "\n".join(problems)
    for expected in ("unknown or invalid quiz 'missing-quiz'", "more than the 6 questions", "ends before it starts",
                     "rounds[1].starts: must be a local time", "attempts: must be a whole number"):
        assert expected in text


def test_content_check_includes_the_quiz_files(tmp_path, monkeypatch):
    broken = tmp_path / "quizzes"
    broken.mkdir()
    quiz_file(broken, correct=5)
    monkeypatch.setattr(quizzes, "QUIZ_DIR", broken)
    monkeypatch.setattr(quizzes, "CONTEST_DIR", tmp_path / "contests")
    assert any("demo-quiz.yaml: questions[0].correct" in p for p in check_all())


@given(st.integers(min_value=0, max_value=400))
def test_question_length_limit(length):
    problems = quizzes._Problems(Path("x.yaml"))
    parsed = quizzes.parse_question(question(question={"vi": "a" * length}), "q", problems)
    assert (parsed is not None) == (1 <= length <= quizzes.QUESTION_LIMIT)


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=-2, max_value=12))
def test_option_count_and_correct_index(count, correct):
    problems = quizzes._Problems(Path("x.yaml"))
    raw = question(options=[{"vi": f"Ý {i}"} for i in range(count)], correct=correct)
    parsed = quizzes.parse_question(raw, "q", problems)
    assert (parsed is not None) == (2 <= count <= 10 and 0 <= correct < count)


async def test_points_are_recorded_once_per_reference(session):
    member = Member(telegram_id=501, language="vi")
    session.add(member)
    await session.commit()
    assert await quizzes.finish_practice(session, member.id, "labour-code-basics", utcnow())
    assert not await quizzes.finish_practice(session, member.id, "labour-code-basics", utcnow())
    assert await quizzes.finish_practice(session, member.id, "trade-union-law-2024", utcnow())
    rows = (await session.execute(select(Point.reason, func.sum(Point.amount)).group_by(Point.reason))).all()
    assert rows == [("practice_quiz", 2)]
