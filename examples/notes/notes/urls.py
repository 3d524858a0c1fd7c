from django.contrib import admin
from django.urls import path

from board import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
    path("api/notes", views.api_notes, name="api-notes"),
    path("upload", views.upload, name="upload"),
    path("admin/", admin.site.urls),
]
# Media and static files are served by nginx (or Caddy), never by Django.
