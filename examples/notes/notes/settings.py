"""Settings for the notes example.

Everything that differs between machines comes from environment variables, so one
release directory runs unchanged on every host of every stage (hoist writes the
variables into shared/.env). Works with Django 3.2 (Debian bookworm) through 5.x.

Variables:
  DJANGO_SECRET_KEY       required unless DJANGO_DEBUG is on
  DJANGO_DEBUG            on/off, default off
  DJANGO_ALLOWED_HOSTS    comma separated, e.g. "example.com,www.example.com"
  DJANGO_CSRF_TRUSTED_ORIGINS
                          comma separated origins, e.g. "https://example.com"
  DATABASE_URL            postgres://user:pass@host:port/name
                          sqlite:////absolute/path/db.sqlite3   (four slashes)
                          sqlite:///relative/db.sqlite3        (relative to BASE_DIR)
                          default: sqlite at BASE_DIR / "db.sqlite3"
  DJANGO_SECURE_SSL_REDIRECT, DJANGO_SESSION_COOKIE_SECURE, DJANGO_CSRF_COOKIE_SECURE
                          on/off, default on (HTTPS everywhere); default off with DEBUG
  DJANGO_SECURE_HSTS_SECONDS
                          integer, default 31536000 (0 with DEBUG); 0 turns HSTS off
  DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS, DJANGO_SECURE_HSTS_PRELOAD
                          on/off, default on (they only matter while HSTS is on)
  DJANGO_SILENCED_CHECKS  comma separated system check ids to silence, e.g.
                          "security.W004,security.W008" for a plain-HTTP site
  DJANGO_LOG_LEVEL        default INFO
  DJANGO_CONN_MAX_AGE     seconds to keep database connections, default 0
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


def parse_database_url(url):
    """Turn a DATABASE_URL into a Django DATABASES entry (no dj-database-url needed)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise ImproperlyConfigured(
                "DATABASE_URL %r: a sqlite URL has no host; use sqlite:////absolute/path "
                "or sqlite:///relative/path" % url
            )
        # sqlite:///db.sqlite3 -> path "/db.sqlite3" -> relative "db.sqlite3"
        # sqlite:////srv/x.db  -> path "//srv/x.db"  -> absolute "/srv/x.db"
        path = unquote(parts.path[1:])
        if not path:
            raise ImproperlyConfigured("DATABASE_URL %r names no sqlite file" % url)
        if path != ":memory:" and not os.path.isabs(path):
            path = str(BASE_DIR / path)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if scheme in ("postgres", "postgresql", "pgsql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL %r names no database" % _redact(url))
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL %r has a bad port" % _redact(url))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            # e.g. ?sslmode=require&connect_timeout=5 go to psycopg2 as they are.
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ImproperlyConfigured(
        "DATABASE_URL scheme %r is not supported (use postgres:// or sqlite://)"
        % parts.scheme
    )


def _redact(url):
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
        parts = parts._replace(netloc=netloc)
    return parts.geturl()


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string (50+ characters), "
            "e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'. "
            "Only with DJANGO_DEBUG=1 may it be left out."
        )
    # Development only; `check --deploy` flags this key (security.W009).
    SECRET_KEY = "django-insecure-notes-example-development-key-do-not-deploy"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
if django.VERSION < (4, 0):
    # Django 3.2 wants bare host names here; 4.0+ wants scheme://host.
    CSRF_TRUSTED_ORIGINS = [o.split("://", 1)[-1] for o in CSRF_TRUSTED_ORIGINS]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "board",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "notes.urls"
WSGI_APPLICATION = "notes.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL") or "sqlite:///db.sqlite3"
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_CONN_MAX_AGE", 0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
# Hashed names (board/site.3f2a1c9d.css): a changed file gets a new URL, so
# browsers can cache them for good, and hoist keeps the previous releases'
# names answering after a deploy for pages they rendered.
_MANIFEST_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
if django.VERSION >= (4, 2):
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": _MANIFEST_STORAGE},
    }
else:
    STATICFILES_STORAGE = _MANIFEST_STORAGE
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

# HTTPS. The proxy (nginx/Caddy) terminates TLS and says so in X-Forwarded-Proto.
# Every protection is on by default (off by default only with DEBUG, for local runs).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
_HTTPS = not DEBUG
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", _HTTPS)
# hoist health-checks each new release directly on its socket, without the proxy's
# X-Forwarded-Proto: never redirect the health check.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", _HTTPS)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Explicit, per stage: e.g. a plain-HTTP demo silences the HTTPS warnings it accepts.
SILENCED_SYSTEM_CHECKS = env_list("DJANGO_SILENCED_CHECKS")

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
    "root": {"handlers": ["stderr"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO").upper()},
}
