from django.urls import path

from jobs import views

urlpatterns = [
    path("", views.index, name="index"),
    path("enqueue/", views.enqueue, name="enqueue"),
    path("jobs/", views.jobs, name="jobs"),
    path("health/", views.health, name="health"),
]
# Static files (compressed CSS included) are served by nginx (or Caddy), never by Django.
