import logging
import os

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .forms import NoteForm, UploadForm
from .models import Note

try:
    # Installed by pip from wheels/ (see requirements.txt). Imported softly so the
    # Django checks still run without it, but the page and the API show it is missing.
    from notes_extras import greeting as _extras_greeting
except ImportError:
    _extras_greeting = None

log = logging.getLogger(__name__)


def extras_greeting():
    if _extras_greeting is None:
        return None
    return _extras_greeting()


def release_info():
    """What tells releases apart: the VERSION file and hoist's HOIST_RELEASE."""
    try:
        with open(os.path.join(settings.BASE_DIR, "VERSION"), encoding="utf-8") as f:
            version = f.read().strip()
    except OSError:
        version = ""
    return {"version": version, "release": os.environ.get("HOIST_RELEASE", "")}


@require_http_methods(["GET", "HEAD", "POST"])
def index(request):
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            form.save()
            return redirect("index")
    else:
        form = NoteForm()
    context = {
        "notes": Note.objects.all()[:100],
        "form": form,
        "upload_form": UploadForm(),
        "extras": extras_greeting(),
    }
    context.update(release_info())
    return render(request, "board/index.html", context)


@never_cache
@require_GET
def healthz(request):
    try:
        Note.objects.exists()  # fails if the database is down or not migrated
    except DatabaseError:
        log.exception("health check: database error")
        return HttpResponse("database error\n", status=500, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def api_notes(request):
    if request.method == "POST":
        form = NoteForm(request.POST)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        note = form.save()
        return JsonResponse(note.as_dict(), status=201)
    data = release_info()
    data["extras"] = extras_greeting()
    data["notes"] = [note.as_dict() for note in Note.objects.all()]
    return JsonResponse(data)


@csrf_exempt
@require_POST
def upload(request):
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    upload = form.cleaned_data["file"]
    # default_storage writes under MEDIA_ROOT (shared/media on the hosts) and
    # picks a free, safe name; nginx serves the file at MEDIA_URL.
    name = default_storage.save("uploads/" + os.path.basename(upload.name), upload)
    log.info("saved upload %s (%d bytes)", name, upload.size)
    return JsonResponse({"name": name, "url": default_storage.url(name)}, status=201)
