"""Every text the code asks for exists in both catalogs, with the same placeholders."""

import ast
from pathlib import Path

import pytest

from bot import REPO_ROOT
from bot.i18n import LANGUAGES, all_keys, t
from bot.services.content_check import check_catalogs

SOURCE_DIRS = ("bot", "handlers")


def _key_uses() -> tuple[set[str], set[str]]:
    """Literal keys and f-string key prefixes passed as the 2nd argument of t(...)."""
    literal, prefixes = set(), set()
    for folder in SOURCE_DIRS:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "t" and len(node.args) >= 2:
                    key = node.args[1]
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        literal.add(key.value)
                    elif isinstance(key, ast.JoinedStr) and isinstance(key.values[0], ast.Constant):
                        prefixes.add(key.values[0].value)
    return literal, prefixes


def test_catalogs_are_complete_and_consistent():
    assert check_catalogs() == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_used_in_code_exists(language):
    literal, prefixes = _key_uses()
    keys = all_keys(language)
    assert literal, "the scan found no t() calls"
    assert sorted(literal - keys) == []
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in keys), prefix


def test_unknown_language_falls_back_to_vietnamese():
    assert t("fr", "menu.settings") == t("vi", "menu.settings")


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))]
    return {id(n.body[0].value) for n in nodes
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def test_no_vietnamese_text_literals_in_code():
    """User-facing text lives in the catalogs; a Vietnamese letter in a code string is a smell."""
    vietnamese = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")
    offenders = []
    for folder in SOURCE_DIRS:
        for path in Path(REPO_ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            lines = source.splitlines()
            tree = ast.parse(source)
            docstrings = _docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 2 \
                        and id(node) not in docstrings \
                        and vietnamese & set(node.value.lower()) \
                        and "# not user text" not in lines[node.lineno - 1]:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert offenders == []
