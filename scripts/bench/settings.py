"""Settings of the load benchmark's server (scripts/bench/run.py): the portal's own, production-like
where it changes the cost of a request, plus a URLconf with one minimal view as the ceiling.

The environment (DATABASE_URL, REDIS_URL, PORTAL_VAR_DIR) comes from the runner.
"""

from portal.settings import *  # noqa: F403
from portal.settings import BASE_DIR, VAR_DIR

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "scripts.bench.urls"

# Compressed static files collected once by the runner, served by whitenoise, as in production
# (the development setting looks them up through the finders). Not the production manifest
# storage: its collectstatic stops on the vendored Bootstrap's missing source-map files, and
# the pages measured here fetch no static file.
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False

# Cached template loaders, as Django uses by default when DEBUG is off; spelled out so a
# development override of DEBUG elsewhere cannot turn them off here.
TEMPLATES[0]["APP_DIRS"] = False  # noqa: F405
TEMPLATES[0]["OPTIONS"]["loaders"] = [  # noqa: F405
    (
        "django.template.loaders.cached.Loader",
        [
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader",
        ],
    )
]

# One line per request on the console would cost more than some of the pages measured.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
BENCH_DIR = BASE_DIR / "var" / "bench"
