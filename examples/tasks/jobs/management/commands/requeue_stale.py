"""Put jobs still pending after a while back in the queue, in a loop.

Celery 5.2 with a Redis broker can lose the one message a worker was
receiving while it stops (celery issue #4354): the broker already handed it
over, the stopping worker drops it, and its Job row stays pending. Every
deploy stops the old release's worker, so this loop runs beside the worker
(a second process in hoist.yml) and queues such jobs again. run_job is
idempotent: a job that was merely slow runs to no further effect.
"""
import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from jobs.models import Job
from jobs.tasks import run_job


class Command(BaseCommand):
    help = "Queue again the jobs still pending after --older-than seconds, every --every seconds."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=5.0)
        parser.add_argument("--older-than", type=float, default=15.0)
        parser.add_argument("--once", action="store_true", help="look once and exit")

    def handle(self, every, older_than, once, **options):
        while True:
            cutoff = timezone.now() - timedelta(seconds=older_than)
            stale = Job.objects.filter(done_at__isnull=True, enqueued_at__lt=cutoff)
            for token in list(stale.values_list("token", flat=True)[:100]):
                Job.objects.filter(token=token).update(enqueued_at=timezone.now())
                run_job.delay(token)
                self.stdout.write("queued %s again" % token)
                self.stdout.flush()
            if once:
                return
            time.sleep(every)
