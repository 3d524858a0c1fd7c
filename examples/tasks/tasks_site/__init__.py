# Load the Celery app whenever Django starts, so @shared_task binds to it
# (and run_job.delay() in a view publishes to TASKS_BROKER_URL).
from .celery import app as celery_app

__all__ = ("celery_app",)
