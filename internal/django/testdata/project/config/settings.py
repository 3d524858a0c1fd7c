# Settings of the test fixture: one app, sqlite at SHELF_DB (set in the
# release's env file, as hoist.yml env would).
import os

SECRET_KEY = "fixture-only-not-a-secret"
DEBUG = True
ALLOWED_HOSTS = ["shelf.test"]
INSTALLED_APPS = ["shelf"]
ROOT_URLCONF = "config.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["SHELF_DB"],
    }
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
