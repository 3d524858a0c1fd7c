from django.contrib import admin
from django.urls import path

from catalog import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("api/products", views.api_products, name="api-products"),
    path("admin/", admin.site.urls),
]
# Media and static files are served by nginx (or Caddy), never by Django.
