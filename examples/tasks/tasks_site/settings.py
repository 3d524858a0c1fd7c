"""Settings for the tasks example.

Everything that differs between machines comes from environment variables with this
app's own names (TASKS_*, not DJANGO_*), so one release directory runs unchanged on
every host of every stage. Works with Debian bookworm's Django 3.2, Celery 5.2 and
django-compressor 4.0 (and newer).

Variables:
  TASKS_SECRET_KEY        required unless TASKS_DEBUG is on
  TASKS_DEBUG             on/off, default off
  TASKS_ALLOWED_HOSTS     comma separated, e.g. "tasks.example.com"
  TASKS_CSRF_TRUSTED_ORIGINS
                          comma separated origins, e.g. "https://tasks.example.com"
  TASKS_DATABASE_URL      postgres://user:pass@host:port/name
                          sqlite:////absolute/path/db.sqlite3   (four slashes)
                          sqlite:///relative/db.sqlite3        (relative to BASE_DIR)
                          default: sqlite at BASE_DIR / "db.sqlite3"
  TASKS_BROKER_URL        Celery's broker, default redis://127.0.0.1:6379/0
  TASKS_MEDIA_ROOT        uploads, default BASE_DIR / "media"
  TASKS_SECURE_SSL_REDIRECT, TASKS_SESSION_COOKIE_SECURE, TASKS_CSRF_COOKIE_SECURE
                          on/off, default on (HTTPS everywhere); default off with DEBUG
  TASKS_SECURE_HSTS_SECONDS
                          integer, default 31536000 (0 with DEBUG); 0 turns HSTS off
  TASKS_LOG_LEVEL         default INFO

A plain-HTTP stage turns the HTTPS settings off; `check --deploy` then warns about
them (security.W004, W008, W016). That is deliberate: nothing is silenced here.
"""
import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import django
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        "%s must be one of on/off, true/false, yes/no, 1/0 (got %r)" % (name, value)
    )


def env_int(name, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured("%s must be an integer (got %r)" % (name, value))


def env_list(name):
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def parse_database_url(name, url):
    """Turn a database URL into a Django DATABASES entry (no dj-database-url needed)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise ImproperlyConfigured(
                "%s %r: a sqlite URL has no host; use sqlite:////absolute/path "
                "or sqlite:///relative/path" % (name, url)
            )
        # sqlite:///db.sqlite3 -> relative "db.sqlite3"; sqlite:////srv/x.db -> "/srv/x.db"
        path = unquote(parts.path[1:])
        if not path:
            raise ImproperlyConfigured("%s %r names no sqlite file" % (name, url))
        if path != ":memory:" and not os.path.isabs(path):
            path = str(BASE_DIR / path)
        # The web processes and the Celery worker write at the same time: wait for
        # the lock instead of failing with "database is locked".
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {"timeout": 20}}
    if scheme in ("postgres", "postgresql", "pgsql"):
        db = unquote(parts.path.lstrip("/"))
        if not db:
            raise ImproperlyConfigured("%s names no database" % name)
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("%s has a bad port" % name)
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": db,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            # e.g. ?sslmode=require&connect_timeout=5 go to psycopg2 as they are.
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ImproperlyConfigured(
        "%s scheme %r is not supported (use postgres:// or sqlite://)" % (name, parts.scheme)
    )


DEBUG = env_bool("TASKS_DEBUG", False)

SECRET_KEY = os.environ.get("TASKS_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "TASKS_SECRET_KEY is not set. Set it to a long random string (50+ characters), "
            "e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'. "
            "Only with TASKS_DEBUG=1 may it be left out."
        )
    # Development only; `check --deploy` flags this key (security.W009).
    SECRET_KEY = "django-insecure-tasks-example-development-key-do-not-deploy"

ALLOWED_HOSTS = env_list("TASKS_ALLOWED_HOSTS")

CSRF_TRUSTED_ORIGINS = env_list("TASKS_CSRF_TRUSTED_ORIGINS")
if django.VERSION < (4, 0):
    # Django 3.2 wants bare host names here; 4.0+ wants scheme://host.
    CSRF_TRUSTED_ORIGINS = [o.split("://", 1)[-1] for o in CSRF_TRUSTED_ORIGINS]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "compressor",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tasks_site.urls"
WSGI_APPLICATION = "tasks_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        "TASKS_DATABASE_URL", os.environ.get("TASKS_DATABASE_URL") or "sqlite:///db.sqlite3"
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: collected into the release (static/ beside manage.py), with hashed
# names from the manifest, and served by nginx/Caddy.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "compressor.finders.CompressorFinder",
]

MEDIA_URL = "/media/"
MEDIA_ROOT = os.environ.get("TASKS_MEDIA_ROOT") or str(BASE_DIR / "media")

# django-compressor, offline: `manage.py compress` (after collectstatic) writes
# static/CACHE/ and its manifest; a page with {% compress %} then only looks the
# result up. Without that step every such page fails with OfflineGenerationError.
COMPRESS_ENABLED = True
COMPRESS_OFFLINE = True
COMPRESS_ROOT = STATIC_ROOT
COMPRESS_URL = STATIC_URL

# Celery (tasks_site/celery.py reads every CELERY_* setting).
CELERY_BROKER_URL = os.environ.get("TASKS_BROKER_URL") or "redis://127.0.0.1:6379/0"
# Acknowledge a task after it ran, one message at a time per worker process: a task
# a stopping worker has not finished goes back to the queue instead of being lost.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# No result backend: results are written to the database by the task itself.
CELERY_TASK_IGNORE_RESULT = True

# HTTPS. The proxy (nginx/Caddy) terminates TLS and says so in X-Forwarded-Proto.
# Every protection is on by default (off by default only with DEBUG, for local runs);
# a plain-HTTP stage turns them off in its env and sees check --deploy's warnings.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
_HTTPS = not DEBUG
SECURE_SSL_REDIRECT = env_bool("TASKS_SECURE_SSL_REDIRECT", _HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SESSION_COOKIE_SECURE = env_bool("TASKS_SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = env_bool("TASKS_CSRF_COOKIE_SECURE", _HTTPS)
SECURE_HSTS_SECONDS = env_int("TASKS_SECURE_HSTS_SECONDS", 31536000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        # StreamHandler writes to stderr; under systemd that lands in the journal.
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["stderr"], "level": os.environ.get("TASKS_LOG_LEVEL", "INFO").upper()},
}
