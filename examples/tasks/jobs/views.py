import logging
import os
import secrets

from django.db import IntegrityError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .models import Job
from .tasks import run_job
from .version import VERSION

log = logging.getLogger(__name__)


@never_cache
@require_GET
def index(request):
    total = Job.objects.count()
    done = Job.objects.filter(done_at__isnull=False).count()
    context = {
        "version": VERSION,
        "release": os.environ.get("HOIST_RELEASE", ""),
        "total": total,
        "done": done,
        "pending": total - done,
        "recent": Job.objects.order_by("-id")[:20],
    }
    return render(request, "jobs/index.html", context)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def enqueue(request):
    """Create a Job and hand it to the worker: /enqueue/?token=X (GET or POST)."""
    token = (request.POST.get("token") or request.GET.get("token") or "").strip()
    if not token:
        token = secrets.token_hex(8)
    if len(token) > 100:
        return HttpResponse("token too long (100 characters at most)\n", status=400,
                            content_type="text/plain")
    try:
        Job.objects.create(token=token)
    except IntegrityError:
        # Already queued (a retried request): do not run it twice.
        return HttpResponse("already queued %s\n" % token, content_type="text/plain")
    try:
        run_job.delay(token)
    except Exception:
        # The broker is down: forget the job, so a retry queues it again.
        log.exception("could not queue job %s", token)
        Job.objects.filter(token=token).delete()
        return HttpResponse("could not queue %s: broker unavailable\n" % token, status=503,
                            content_type="text/plain")
    return HttpResponse("queued %s\n" % token, content_type="text/plain")


@never_cache
@require_GET
def jobs(request):
    rows = list(Job.objects.values_list("token", "done_at", "done_by_version"))
    return JsonResponse({
        "total": len(rows),
        "done": sum(1 for _, done_at, _ in rows if done_at is not None),
        "pending": [token for token, done_at, _ in rows if done_at is None],
        "versions": {token: version for token, done_at, version in rows if done_at is not None},
    })


@never_cache
@require_GET
def health(request):
    """200 "ok" after a real query on the app's table (fails if not migrated)."""
    Job.objects.exists()
    return HttpResponse("ok\n", content_type="text/plain")
