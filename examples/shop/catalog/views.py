import logging
import os

from django.conf import settings
from django.db import DatabaseError, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from .forms import ProductForm
from .models import Category, Product

log = logging.getLogger(__name__)


def release_info():
    """What tells releases apart: the VERSION file and hoist's HOIST_RELEASE."""
    try:
        with open(os.path.join(settings.BASE_DIR, "VERSION"), encoding="utf-8") as f:
            version = f.read().strip()
    except OSError:
        version = ""
    return {"version": version, "release": os.environ.get("HOIST_RELEASE", "")}


def product_fields():
    """Names of Product's columns as the running code defines them."""
    return [field.name for field in Product._meta.concrete_fields]


def product_as_dict(product):
    """Every concrete field of the model as currently defined (a foreign key as the
    related object's text), so a test sees schema changes in the API."""
    data = {}
    for field in Product._meta.concrete_fields:
        if field.is_relation:
            related = getattr(product, field.name)
            data[field.name] = None if related is None else str(related)
        else:
            # Decimals and datetimes are turned into strings by JsonResponse's encoder.
            data[field.name] = field.value_from_object(product)
    return data


@require_http_methods(["GET", "HEAD"])
def index(request):
    context = {"products": Product.objects.select_related("category")[:100]}
    context.update(release_info())
    return render(request, "catalog/index.html", context)


@never_cache
@require_GET
def healthz(request):
    try:
        Product.objects.exists()  # fails if the database is down or not migrated
    except DatabaseError:
        log.exception("health check: database error")
        return HttpResponse("database error\n", status=500, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def api_products(request):
    if request.method == "POST":
        form = ProductForm(request.POST)
        if not form.is_valid():
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        # A database error here (e.g. old code inserting into a changed table) is
        # left to Django: a 500, logged, which is what a migration test looks for.
        with transaction.atomic():
            category, _ = Category.objects.get_or_create(
                name=form.cleaned_data["category"].strip()
            )
            product = form.save(commit=False)
            product.category = category
            product.save()
        # Read back, so the answer shows what the database stored (e.g. price "12.50").
        product = Product.objects.select_related("category").get(pk=product.pk)
        return JsonResponse(product_as_dict(product), status=201)
    data = release_info()
    data["fields"] = product_fields()
    data["products"] = [
        product_as_dict(p) for p in Product.objects.select_related("category")
    ]
    return JsonResponse(data)
