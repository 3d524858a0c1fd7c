"""The Celery app: `python -m celery -A tasks_site worker` finds it here.

Its settings are Django's CELERY_* settings (tasks_site/settings.py), so the worker
reads the same environment as the web processes.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasks_site.settings")

app = Celery("tasks_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
