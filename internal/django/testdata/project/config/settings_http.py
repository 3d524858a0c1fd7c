# A plain-HTTP production stage of the fixture, as real apps have one: DEBUG
# off, a strong SECRET_KEY, the usual middleware, and none of the HTTPS
# settings, so check --deploy warns about HSTS, the SSL redirect and secure
# cookies. SHELF_DEBUG and SHELF_SECRET_KEY let tests break it;
# SHELF_SILENCED is the project's own SILENCED_SYSTEM_CHECKS.
import os

from config.settings import *  # noqa: F401,F403

DEBUG = os.environ.get("SHELF_DEBUG") == "on"
SECRET_KEY = os.environ.get("SHELF_SECRET_KEY", "fixture-Zq8v7WmN3kT1pXr5bY2cH9dL6sF4gJ0aQe-R7uV2xW9yZ3")
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
SILENCED_SYSTEM_CHECKS = [c for c in os.environ.get("SHELF_SILENCED", "").split(",") if c]
