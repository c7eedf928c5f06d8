"""The worker's draft concern while it is being written: checks on each answer, and the CaseDraft it becomes.

The draft lives in the conversation's user_data, which is persisted as JSON: it is a plain dict of str, int,
bool, None and lists of such dicts. Nothing here imports telegram.
"""

from __future__ import annotations

import re
import secrets
from enum import Enum
from typing import Any

from bot.services.categories import get_category, proposes_urgent
from bot.services.grievances import ATTACHMENT_LIMIT, Attachment, CaseDraft
from bot.text import nfc

DESCRIPTION_MIN = 20
DESCRIPTION_MAX = 3000
FILE_SIZE_LIMIT = 20 * 1024 * 1024  # what a bot can download from Telegram
FILE_SIZE_LIMIT_MB = FILE_SIZE_LIMIT // (1024 * 1024)
WORKPLACE_NAME_MIN = 2
WORKPLACE_NAME_MAX = 255
GROUP_SIZE_MIN = 2
GROUP_SIZE_MAX = 100_000
# Approximate group sizes offered as buttons: (label, value stored as group_size).
GROUP_SIZES = (("2–10", 10), ("11–50", 50), ("51–200", 200), ("200+", 201))
SCOPES = ("individual", "group")
IDENTITIES = ("named", "confidential", "anonymous")
ATTACHMENT_KINDS = ("photo", "document", "voice")
_NUMBER = re.compile(r"\d{1,3}(?:[.,]\d{3})+(?!\d)|\d+")  # 1.200 and 1,200 are thousands


class Problem(Enum):
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_BIG = "too_big"
    TOO_MANY = "too_many"


def new_draft() -> dict[str, Any]:
    """A fresh draft. Its token is kept with the persisted draft and on the case it becomes, so the same
    draft sent again (after a crash lost the acknowledgement) finds that case instead of making another."""
    return {"token": secrets.token_hex(16), "step": None, "category": None, "scope": None, "group_size": None,
            "group_label": None, "text": None, "attachments": [], "workplace_id": None, "workplace_name": None,
            "province_code": None, "identity": None, "urgent": None, "editing": False}


def check_description(raw: str) -> tuple[str, Problem | None]:
    """The description as stored (NFC, trimmed) and what is wrong with its length, if anything."""
    text = nfc(raw)
    if len(text) < DESCRIPTION_MIN:
        return text, Problem.TOO_SHORT
    if len(text) > DESCRIPTION_MAX:
        return text, Problem.TOO_LONG
    return text, None


def check_workplace_name(raw: str) -> tuple[str, bool]:
    name = nfc(raw)
    return name, WORKPLACE_NAME_MIN <= len(name) <= WORKPLACE_NAME_MAX


def parse_group_size(typed: str) -> int | None:
    """A typed approximate number of people ("30", "khoảng 1.200 người", "~50"), or None."""
    found = _NUMBER.search(nfc(typed))
    if found is None:
        return None
    digits = re.sub(r"\D", "", found.group())
    if not digits or len(digits) > 7:
        return None
    value = int(digits)
    return value if GROUP_SIZE_MIN <= value <= GROUP_SIZE_MAX else None


def group_size_from_button(label: str) -> int | None:
    return dict(GROUP_SIZES).get(label)


def group_size_label(size: int | None) -> str | None:
    """A stored group size as officers read it: the range of the button the worker picked (stored as the
    range's top, 201 for "200+"), else the number typed. A typed 10, 50 or 200 reads as its range too."""
    if size is None:
        return None
    return {value: label for label, value in GROUP_SIZES}.get(size, str(size))


def add_attachment(draft: dict[str, Any], file_id: str, kind: str, size: int | None) -> Problem | None:
    """Keep a file the worker sent, unless it is too big or there are already enough."""
    if kind not in ATTACHMENT_KINDS:
        raise ValueError(kind)
    if size is not None and size > FILE_SIZE_LIMIT:
        return Problem.TOO_BIG
    if len(draft["attachments"]) >= ATTACHMENT_LIMIT:
        return Problem.TOO_MANY
    draft["attachments"].append({"file_id": file_id, "kind": kind, "size": size})
    return None


def has_description(draft: dict[str, Any]) -> bool:
    """Text, or a voice message in its place."""
    return bool(draft.get("text")) or any(a["kind"] == "voice" for a in draft["attachments"])


def proposes_urgency(draft: dict[str, Any]) -> bool:
    category = get_category(draft["category"] or "")
    return category is not None and proposes_urgent(category, draft.get("text") or "")


def missing_fields(draft: dict[str, Any]) -> list[str]:
    """What still has to be answered before the draft can be submitted."""
    missing = []
    if get_category(draft.get("category") or "") is None:
        missing.append("category")
    if draft.get("scope") not in SCOPES or (draft["scope"] == "group" and not draft.get("group_size")):
        missing.append("scope")
    if not has_description(draft):
        missing.append("description")
    if draft.get("workplace_id") is None and not (draft.get("workplace_name") and draft.get("province_code")):
        missing.append("workplace")
    if draft.get("identity") not in IDENTITIES:
        missing.append("identity")
    return missing


def build_case_draft(draft: dict[str, Any], language: str) -> CaseDraft:
    """The CaseDraft that grievances.submit_case stores; raises ValueError when something is missing."""
    missing = missing_fields(draft)
    if missing:
        raise ValueError(f"incomplete draft: {', '.join(missing)}")
    listed = draft["workplace_id"] is not None
    return CaseDraft(
        category=draft["category"], text=draft.get("text") or None, scope=draft["scope"],
        group_size=draft["group_size"] if draft["scope"] == "group" else None, urgent=bool(draft.get("urgent")),
        identity=draft["identity"], workplace_id=draft["workplace_id"],
        workplace_other_name=None if listed else draft["workplace_name"],
        province_code=None if listed else draft["province_code"], language=language,
        attachments=[Attachment(a["file_id"], a["kind"], a.get("size")) for a in draft["attachments"]],
        token=draft.get("token"))
