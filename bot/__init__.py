"""congdoan-bot: member engagement and grievance bot for Vietnam's trade unions."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = REPO_ROOT / "content"
LOCALE_DIR = REPO_ROOT / "locale"
