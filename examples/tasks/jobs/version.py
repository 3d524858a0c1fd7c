"""The release's version: the VERSION file at the project root.

Read once, when a process starts (gunicorn worker or Celery worker), from the
release directory that process runs in. A release directory never changes, so a
test tells which release's code served a page or ran a task by this value.
"""
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def read_version():
    try:
        return (BASE_DIR / "VERSION").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


VERSION = read_version()
