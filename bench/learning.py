"""Learning under load: search latency over a large library, and practice-quiz answers per second.

1. Search, in this process (no Telegram): a synthetic but realistic corpus of 1,000 Vietnamese articles and
   1,000 FAQ entries (labour-rights vocabulary with diacritics) is written in the content formats to a
   temporary directory, loaded by the bot's own loader (bot.services.library.load_content, which validates
   it and builds the search index), installed as what the bot serves, and queried through the functions the
   handlers call (bot.services.search.search for typed words, bot.services.faq.match for a grievance text).
   Prints the load and index build times and p50/p99 per query kind.
2. Quizzes, through the emulator: many members (onboarded in the database before the run) each open /quiz,
   start the practice quiz and answer every question, waiting for each answer's feedback and the next
   question as a person would; the bot runs in its child process (bench/common.py) and serves
   content/quizzes/ as in production. Against the bare PTB echo bot (bench/common.py)
   under the same number of updates per person, on SQLite and on a throwaway PostgreSQL cluster, over
   interleaved rounds (median shown).

    .venv/bin/python bench/learning.py [--workers 50] [--rounds 3] [--queries 600] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402 - bench/ is not a package
    ECHO_TOKEN,
    OURS_TOKEN,
    Person,
    buttons,
    databases,
    interleaved_rounds,
    offers,
    percentile,
    prepare_database,
    print_figures,
    print_steps,
)
from grievances import Population  # noqa: E402 - onboarded members spread over the demo workplaces
from sqlalchemy import func, select  # noqa: E402

from bot.services import faq, library, quizzes, search  # noqa: E402
from bot.text import fold  # noqa: E402
from db.models import Point  # noqa: E402
from db.session import create_engine, create_session_factory  # noqa: E402
from handlers.learn import INTAKE_ANSWERS, RESULTS  # noqa: E402 - the limits the handlers ask for
from sandbox.emulator import BotApiEmulator  # noqa: E402

ARTICLES = 1000
FAQ_ENTRIES = 1000
QUERY_KINDS = ("diacritics", "no diacritics", "typo", "multi-word", "abbreviation", "grievance text")

# ----- the synthetic corpus -----

TOPICS = {  # code: (vi name, en name, the law it cites, its terms)
    "resolution25": ("Nghị quyết 25 và chương trình hành động", "Resolution 25", "Nghị quyết 25-NQ/TW ngày 3/6/2013",
                     ["công tác dân vận", "quần chúng nhân dân", "hệ thống chính trị", "khối đại đoàn kết",
                      "chương trình hành động", "vận động công nhân", "phong trào quần chúng"]),
    "mass_mobilisation": ("Tư tưởng Hồ Chí Minh về dân vận", "Hồ Chí Minh on mass mobilisation",
                          "Nghị quyết 25-NQ/TW ngày 3/6/2013",
                          ["dân vận khéo", "tư tưởng Hồ Chí Minh", "gần dân", "trọng dân", "lắng nghe ý kiến",
                           "nói đi đôi với làm", "vận động quần chúng"]),
    "labour_code": ("Bộ luật Lao động 2019", "Labour Code 2019", "Bộ luật Lao động số 45/2019/QH14",
                    ["hợp đồng lao động", "thử việc", "thời giờ làm việc", "làm thêm giờ", "tăng ca",
                     "nghỉ hằng năm", "nghỉ phép", "chấm dứt hợp đồng", "sa thải", "kỷ luật lao động",
                     "trợ cấp thôi việc", "nội quy lao động", "làm việc ban đêm", "nghỉ lễ tết"]),
    "wages": ("Tiền lương", "Wages", "Nghị định 74/2024/NĐ-CP",
              ["lương tối thiểu vùng", "tiền lương", "phụ cấp", "thưởng tết", "trả lương chậm", "thang bảng lương",
               "tiền lương làm thêm giờ", "khấu trừ lương", "lương thử việc", "nâng lương", "trả lương đúng hạn"]),
    "social_insurance": ("Bảo hiểm xã hội", "Social insurance", "Luật Bảo hiểm xã hội số 41/2024/QH15",
                         ["bảo hiểm xã hội", "lương hưu", "chế độ thai sản", "chế độ ốm đau", "sổ bảo hiểm xã hội",
                          "rút bảo hiểm xã hội một lần", "trợ cấp hưu trí xã hội", "đóng bảo hiểm xã hội",
                          "nợ đóng bảo hiểm", "chế độ tử tuất"]),
    "health_insurance": ("Bảo hiểm y tế", "Health insurance", "Luật Bảo hiểm y tế sửa đổi số 51/2024/QH15",
                         ["bảo hiểm y tế", "thẻ bảo hiểm y tế", "khám chữa bệnh", "mức hưởng bảo hiểm y tế",
                          "khám sức khỏe", "chuyển tuyến", "thuốc bảo hiểm"]),
    "osh": ("An toàn, vệ sinh lao động", "Occupational safety and health",
            "Luật An toàn, vệ sinh lao động số 84/2015/QH13",
            ["an toàn vệ sinh lao động", "tai nạn lao động", "bệnh nghề nghiệp", "bảo hộ lao động",
             "khám sức khỏe định kỳ", "môi trường làm việc", "huấn luyện an toàn", "nắng nóng", "tiếng ồn",
             "hóa chất độc hại"]),
    "employment": ("Việc làm", "Employment", "Luật Việc làm số 74/2025/QH15",
                   ["bảo hiểm thất nghiệp", "trợ cấp thất nghiệp", "trung tâm dịch vụ việc làm", "học nghề",
                    "tìm việc làm", "hỗ trợ đào tạo nghề", "mất việc làm"]),
    "trade_union_law": ("Luật Công đoàn 2024", "Trade Union Law 2024", "Luật Công đoàn số 50/2024/QH15",
                        ["công đoàn cơ sở", "đoàn viên công đoàn", "đoàn phí", "kinh phí công đoàn",
                         "thương lượng tập thể", "thỏa ước lao động tập thể", "đối thoại tại nơi làm việc",
                         "cán bộ công đoàn", "gia nhập công đoàn", "quyền của đoàn viên"]),
    "emulation": ("Thi đua", "Emulation", "Luật Thi đua, khen thưởng",
                  ["lao động giỏi", "lao động sáng tạo", "sáng kiến", "Mái ấm Công đoàn", "thi đua yêu nước",
                   "khen thưởng", "phát huy sáng kiến"]),
    "grievances": ("Phản ánh và khiếu nại", "Concerns and complaints", "Bộ luật Lao động số 45/2019/QH14",
                   ["khiếu nại", "phản ánh", "kiến nghị", "tranh chấp lao động", "hòa giải viên lao động",
                    "đình công", "bảo vệ quyền lợi", "đơn thư"]),
    "good_examples": ("Gương điển hình", "Good examples", "Hướng dẫn của Tổng Liên đoàn Lao động Việt Nam",
                      ["gương điển hình", "người tốt việc tốt", "tấm gương", "nêu gương", "tổ sản xuất giỏi"]),
}
WORKERS = ["người lao động", "công nhân", "đoàn viên công đoàn", "lao động nữ", "công nhân thời vụ",
           "người lao động cao tuổi"]
EMPLOYERS = ["người sử dụng lao động", "doanh nghiệp", "công ty", "nhà máy", "chủ xưởng may", "ban giám đốc"]
PLACES = ["Khu công nghiệp VSIP", "Khu công nghiệp Thăng Long", "Bắc Ninh", "Bình Dương", "Đồng Nai", "Hải Phòng",
          "Thành phố Hồ Chí Minh", "Hà Nội", "Long An", "Thái Nguyên", "Đà Nẵng", "Cần Thơ"]
TITLES = ["{Term}: những điều người lao động cần biết", "Quyền của người lao động về {term}",
          "Hỏi đáp về {term} và {term2}", "{Term} tại {place}: quy định và thực tế", "Cách tính {term} năm {year}",
          "Công đoàn hỗ trợ đoàn viên về {term}", "{Term} khi {employer} vi phạm", "Năm điều cần nhớ về {term}"]
SENTENCES = [
    "Theo {law}, {worker} có quyền được hưởng {term} đầy đủ và đúng hạn.",
    "Người lao động cần nắm rõ quy định về {term} để tự bảo vệ quyền lợi của mình.",
    "Khi doanh nghiệp vi phạm quy định về {term}, người lao động có thể phản ánh với công đoàn cơ sở.",
    "Mức {term} được tính dựa trên {term2} và thời gian làm việc thực tế.",
    "Công đoàn cơ sở có trách nhiệm hướng dẫn đoàn viên về {term} và giám sát việc thực hiện.",
    "Nhiều công nhân tại {place} chưa biết rằng {term} gắn liền với {term2}.",
    "Người sử dụng lao động phải thông báo công khai về {term} tại nơi làm việc.",
    "Trường hợp có tranh chấp về {term}, hai bên có thể đề nghị hòa giải viên lao động giúp đỡ.",
    "Hồ sơ đề nghị giải quyết {term} gồm đơn đề nghị, giấy tờ tùy thân và các giấy tờ liên quan.",
    "Thời hạn giải quyết {term} không quá {number} ngày làm việc kể từ ngày nhận đủ hồ sơ.",
    "Chị công nhân ở {place} kể rằng nhờ hiểu về {term} mà chị đã nhận lại được {term2}.",
    "Tổ công đoàn nên tổ chức buổi trao đổi ngắn về {term} vào cuối ca làm việc.",
    "Đoàn viên có thể hỏi cán bộ công đoàn về {term} bất cứ lúc nào, kể cả qua điện thoại.",
    "Việc {employer} không thực hiện đúng {term} là hành vi vi phạm pháp luật và có thể bị xử phạt.",
    "Người lao động nên giữ lại bảng lương, hợp đồng và tin nhắn liên quan đến {term} làm bằng chứng.",
    "Ở nhiều doanh nghiệp tại {place}, thỏa ước lao động tập thể quy định {term} cao hơn mức luật định.",
]
HEADINGS = ["Quy định chung", "Ai được hưởng", "Điều kiện", "Mức hưởng", "Thủ tục", "Công đoàn giúp gì",
            "Lưu ý", "Câu chuyện thực tế", "Khi quyền lợi bị vi phạm"]
QUESTIONS = ["{Term} được tính như thế nào?", "Công ty không thực hiện {term} thì tôi phải làm gì?",
             "Tôi có được hưởng {term} khi {term2} không?", "Thủ tục nhận {term} gồm những gì?",
             "Bao lâu thì được giải quyết {term}?", "Làm ở {place} thì {term} có khác không?",
             "Công nhân thời vụ có được {term} không?", "Ai chịu trách nhiệm về {term} ở doanh nghiệp?"]
GRIEVANCES = ["Công ty ở {place} không {term} cho công nhân đã ba tháng nay, anh chị em trong tổ rất bức xúc. "
              "Chúng tôi muốn công đoàn hỏi giúp về {term2} và quyền lợi của người lao động.",
              "Tôi làm ở xưởng may được hai năm, quản đốc bắt {term} mà không trả {term2}. "
              "Tôi nên làm gì để bảo vệ quyền lợi của mình?",
              "Từ đầu năm doanh nghiệp chậm {term}, nhiều người đã nghỉ việc. Xin công đoàn cho biết "
              "quy định về {term2} và cách khiếu nại."]


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def slugify(text: str, number: int) -> str:
    return f"{fold(text).replace(' ', '-')[:36].strip('-')}-{number}"


class Corpus:
    """Topics, articles and FAQ entries written to a directory, and the queries a worker types."""

    def __init__(self, seed: int = 4) -> None:
        self.rng = random.Random(seed)
        self.codes = list(TOPICS)

    def words(self, code: str) -> dict[str, str]:
        terms = TOPICS[code][3]
        term, term2 = self.rng.sample(terms, 2)
        return {"term": term, "Term": capital(term), "term2": term2, "law": TOPICS[code][2],
                "worker": self.rng.choice(WORKERS),
                "employer": self.rng.choice(EMPLOYERS), "place": self.rng.choice(PLACES),
                "number": str(self.rng.choice((5, 7, 10, 15, 20, 30))), "year": str(self.rng.choice((2025, 2026)))}

    def sentences(self, code: str, count: int) -> str:
        return " ".join(self.rng.choice(SENTENCES).format(**self.words(code)) for _ in range(count))

    def write(self, directory: Path) -> None:
        (directory / "articles").mkdir(parents=True)
        self.write_topics(directory / "topics.yaml")
        slugs: list[tuple[str, str]] = []
        for number in range(ARTICLES):
            slugs.append(self.write_article(directory / "articles", number, slugs))
        lines = ["faq:"]
        for number in range(FAQ_ENTRIES):
            lines += self.faq_entry(number, slugs)
        (directory / "faq.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_topics(self, path: Path) -> None:
        lines = ["topics:"]
        for code, (vi, en, _, _) in TOPICS.items():
            lines += [f"  - code: {code}", f'    vi: {{name: "{vi}", description: "Các bài về {vi.lower()}."}}',
                      f'    en: {{name: "{en}", description: "Articles on {en.lower()}."}}']
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write_article(self, directory: Path, number: int, earlier: list[tuple[str, str]]) -> tuple[str, str]:
        code = self.codes[number % len(self.codes)]
        words = self.words(code)
        slug = slugify(words["term"], number)
        tags = self.rng.sample(TOPICS[code][3], 3) + [fold(words["term"])]
        body: list[str] = []
        for heading in self.rng.sample(HEADINGS, self.rng.randint(3, 4)):
            body += [f"## {heading}", "", self.sentences(code, self.rng.randint(3, 5)), ""]
            if self.rng.random() < 0.5:
                body += [f"- {self.rng.choice(SENTENCES).format(**self.words(code))}" for _ in range(3)] + [""]
        same_topic = [other for other, topic in earlier[-24:] if topic == code]
        related = f"related: [{', '.join(same_topic)}]\n" if same_topic else ""
        text = (f"---\nslug: {slug}\ntopic: {code}\ntitle: \"{self.rng.choice(TITLES).format(**words)}\"\n"
                f"language: vi\nsummary: \"{self.rng.choice(SENTENCES).format(**words)[:200]}\"\n"
                f"tags: [{', '.join(tags)}]\nsource: \"{words['law']}\"\nreviewed: 2026-11-25\n{related}---\n"
                + "\n".join(body))
        (directory / f"{slug}.vi.md").write_text(text, encoding="utf-8")
        return slug, code

    def faq_entry(self, number: int, slugs: list[tuple[str, str]]) -> list[str]:
        code = self.codes[number % len(self.codes)]
        words = self.words(code)
        answer = self.sentences(code, self.rng.randint(3, 6))[:1000].replace('"', "'")
        article = self.rng.choice([slug for slug, topic in slugs if topic == code])
        lines = [f"  - id: {slugify(words['term'], number)}", f"    topic: {code}",
                 f'    question: {{vi: "{self.rng.choice(QUESTIONS).format(**words)}"}}',
                 f'    answer: {{vi: "{answer}"}}', f"    keywords: [{fold(words['term'])}]",
                 f'    source: "{words["law"]}"']
        if self.rng.random() < 0.5:
            lines.append(f"    article: {article}")
        return lines

    # --- queries ---

    def term(self) -> str:
        return self.rng.choice(TOPICS[self.rng.choice(self.codes)][3])

    def typo(self, text: str) -> str:
        """One slip of the finger in one longer word of the unaccented text."""
        words = fold(text).split()
        long = [index for index, word in enumerate(words) if len(word) >= 4] or [0]
        index = self.rng.choice(long)
        word = words[index]
        at = self.rng.randrange(1, len(word))
        kind = self.rng.choice(("double", "drop", "swap", "replace"))
        if kind == "double":
            word = word[:at] + word[at - 1] + word[at:]
        elif kind == "drop":
            word = word[:at] + word[at + 1:]
        elif kind == "swap" and at < len(word) - 1:
            word = word[:at] + word[at + 1] + word[at] + word[at + 2:]
        else:
            word = word[:at] + self.rng.choice("aeiouhnt") + word[at + 1:]
        words[index] = word
        return " ".join(words)

    def multi_word(self) -> str:
        code = self.rng.choice(self.codes)
        question = self.rng.choice(QUESTIONS).format(**self.words(code))
        return question if self.rng.random() < 0.5 else fold(question)

    def grievance(self) -> str:
        code = self.rng.choice(self.codes)
        return self.rng.choice(GRIEVANCES).format(**self.words(code))

    def queries(self, per_kind: int) -> list[tuple[str, str, str | None]]:
        """(kind, text, the term it was made from if one) triples, shuffled so that no kind runs on a warmer
        cache than another."""
        def from_term(shape):  # type: ignore[no-untyped-def]
            def make() -> tuple[str, str]:
                term = self.term()
                return shape(term), term
            return make

        makers = {
            "diacritics": from_term(lambda term: term),
            "no diacritics": from_term(fold),
            "typo": from_term(self.typo),
            "multi-word": lambda: (self.multi_word(), None),
            "abbreviation": lambda: (self.rng.choice(("bhxh một lần", "bhtn", "đóng bhyt", "cty nợ bhxh",
                                                      "nld làm thêm", "cdcs")), None),
            "grievance text": lambda: (self.grievance(), None),
        }
        triples = [(kind, *makers[kind]()) for kind in QUERY_KINDS for _ in range(per_kind)]
        self.rng.shuffle(triples)
        return triples


def searched_text(content: library.Content, hit: search.SearchHit) -> str:
    """The folded text of a hit's item, to check that the best hit is about the term searched."""
    if hit.kind == search.ARTICLE:
        article = content.library.get_article(hit.key, "vi")
        return fold(" ".join((article.title, *article.tags, article.summary, article.body)))
    entry = next(entry for entry in content.faq if entry.id == hit.key)
    return fold(" ".join((entry.question("vi"), entry.answer("vi"), *entry.keywords)))


def run_search(per_kind: int) -> None:
    with tempfile.TemporaryDirectory(prefix="congdoan-bench-content-") as folder:
        directory = Path(folder)
        started = time.perf_counter()
        Corpus().write(directory)
        written = time.perf_counter() - started
        started = time.perf_counter()
        content = library.load_content(directory)  # the bot's own loader: validation and the index
        loaded = time.perf_counter() - started
    started = time.perf_counter()
    search.SearchIndex(content.library.versions(), content.faq)  # the index alone, once more
    built = time.perf_counter() - started
    print(f"corpus: {len(content.library.articles)} articles, {len(content.faq)} FAQ entries, "
          f"{len(content.library.topics)} topics (written in {written:.1f} s)")
    print(f"load_content (read, validate, split, index): {loaded * 1000:7.0f} ms   "
          f"SearchIndex build alone: {built * 1000:7.0f} ms")
    library.install(content)  # what the bot serves: the functions below are the ones the handlers call
    latencies: dict[str, list[float]] = defaultdict(list)
    found: dict[str, int] = defaultdict(int)
    on_topic: dict[str, int] = defaultdict(int)
    try:
        for kind, text, term in Corpus(seed=25).queries(per_kind):
            started = time.perf_counter()
            if kind == "grievance text":
                hits: list = faq.match(text, "vi", limit=INTAKE_ANSWERS)
            else:
                hits = search.search(text, "vi", limit=RESULTS)
            latencies[kind].append(time.perf_counter() - started)
            found[kind] += bool(hits)
            if hits and term is not None and isinstance(hits[0], search.SearchHit):
                on_topic[kind] += fold(term) in searched_text(content, hits[0])
    finally:
        library.install(None)
    print(f"queries: {sum(len(values) for values in latencies.values())}, in process, one at a time "
          f"(best hit on the term: share of queries whose first result contains the term searched)")
    for kind in QUERY_KINDS:
        values = latencies[kind]
        relevance = f"  best hit on the term {on_topic[kind] / len(values):4.0%}" if kind in on_topic else ""
        print(f"  {kind:15} n={len(values):5}  p50 {percentile(values, .5):6.2f} ms  "
              f"p99 {percentile(values, .99):6.2f} ms  max {max(values) * 1000:6.1f} ms  "
              f"with results {found[kind] / len(values):4.0%}{relevance}")


# ----- one member's practice quiz -----

async def worker_quiz(emulator: BotApiEmulator, index: int, latencies: list, population: Population,
                      quiz: quizzes.Quiz) -> None:
    person = Person(emulator, population.user(index), latencies)
    step, press = person.step, person.press

    start = f"quiz:practice:{quiz.slug}"
    home = await step("/quiz", person.say("/quiz"), offers(start))
    question = await step("start", press(home, start), offers("quiz:a:"))
    score = 0
    for position, asked in enumerate(quiz.questions):
        # Most answers right, one in four wrong, as people answer.
        chosen = asked.correct if (index + position) % 4 else (asked.correct + 1) % len(asked.options)
        score += chosen == asked.correct
        run = buttons(question)[0].split(":")[2]
        last = position == len(quiz.questions) - 1
        question = await step("answer", press(question, f"quiz:a:{run}:{position}:{chosen}"),
                              offers(start) if last else offers(f"quiz:a:{run}:{position + 1}:"))
    if f"{score}/{len(quiz.questions)}" not in question["text"]:
        raise AssertionError(f"worker {index}: expected score {score}, got {question['text']!r}")


async def count_finished(database_url: str) -> int:
    """Practice quizzes the bot recorded as finished (one points row per member and quiz)."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return await session.scalar(select(func.count()).select_from(Point)
                                        .where(Point.reason == "practice_quiz")) or 0
    finally:
        await engine.dispose()


def practice_quiz() -> quizzes.Quiz:
    """The quiz the bot offers first under /quiz (content/quizzes/, as the bot in its process loads it)."""
    loaded = quizzes.load_quizzes()
    if not loaded.quizzes:
        raise SystemExit(f"no valid quiz in {quizzes.QUIZ_DIR}: {loaded.problems}")
    return next(iter(loaded.quizzes.values()))


async def run_quizzes(workers: int, database_url: str | None, rounds: int) -> None:
    quiz = practice_quiz()
    steps = 2 + len(quiz.questions)
    warm_up = 5
    people = rounds * (workers + warm_up)  # new ones each round, see interleaved_rounds
    async with databases(database_url) as urls:
        async with BotApiEmulator() as emulator:
            emulator.add_bot(token=ECHO_TOKEN, username="echo_bench_bot")
            emulator.add_bot(token=OURS_TOKEN, username="congdoan_bench_bot")
            population = Population(emulator)
            for url in urls:
                await prepare_database(url)
                await population.seed(url, range(people))
            echo, ours = await interleaved_rounds(emulator, urls, rounds, workers,
                                                  partial(worker_quiz, population=population, quiz=quiz), steps,
                                                  warm_up)
            recorded = {url: await count_finished(url) for url in urls}
    print(f"quiz {quiz.slug!r}: {len(quiz.questions)} questions, {steps} updates per member "
          f"(/quiz, start, one per answer)")
    print(f"workers: {workers}, rounds: {rounds} (median shown), cores: {os.cpu_count()}")
    print_figures("bare PTB echo", echo)
    for url, figures in ours.items():
        seconds = len(figures.latencies) / figures.rate
        answers = sum(1 for name, _ in figures.latencies if name == "answer")
        print_figures(f"ours/{url.split('+', 1)[0]}", figures)
        print(f"  answers/s {answers / seconds:6.1f}   quizzes finished/s {workers / seconds:5.2f}   "
              f"ratio ours/echo (updates/s, same updates per person): {figures.rate / echo.rate:.2f}")
        print(f"  quizzes recorded as finished in the database: {recorded[url]} of {people} played")
        print_steps(figures.latencies)


async def main(workers: int, database_url: str | None, rounds: int, per_kind: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    print("== search ==")
    run_search(per_kind)
    print("== practice quizzes ==")
    await run_quizzes(workers, database_url, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=600, help="queries per kind (six kinds)")
    args = parser.parse_args()
    asyncio.run(main(args.workers, args.database_url, args.rounds, args.queries))
