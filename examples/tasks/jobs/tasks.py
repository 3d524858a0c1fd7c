import logging
import time

from celery import shared_task
from django.utils import timezone

from .models import Job
from .version import VERSION

log = logging.getLogger(__name__)


@shared_task
def run_job(token):
    """Pretend to work a little, then record when and by which release it ran."""
    time.sleep(0.2)
    now = timezone.now()
    # Only a pending job is marked: a job queued again by requeue_stale
    # after a slow first run keeps the version that ran it first.
    updated = Job.objects.filter(token=token, done_at__isnull=True).update(done_at=now, done_by_version=VERSION)
    if not updated and not Job.objects.filter(token=token).exists():
        # Enqueued by hand (not through /enqueue/): record it all the same.
        Job.objects.create(token=token, done_at=now, done_by_version=VERSION)
    log.info("job %s done by version %s", token, VERSION)
    return VERSION
