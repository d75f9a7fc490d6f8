"""Settings for every environment, read from the environment through ``portal.env.Env``.

With nothing set the portal runs for development: SQLite and kombu's filesystem broker under
``var/``, mail to the console and the dev outbox. ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis. ``DJANGO_ENV=production`` requires real secrets and turns on every
transport-security setting so that ``manage.py check --deploy`` is clean.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from portal.env import Env

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

DJANGO_ENV = env.choice("DJANGO_ENV", {"development", "test", "production"}, "development")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be at least 50 random characters in production."
        )
    DEBUG = env.bool("DJANGO_DEBUG", False)
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
else:
    # Development-only key: never used when DJANGO_ENV=production.
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", "django-insecure-development-key-not-for-production")
    DEBUG = env.bool("DJANGO_DEBUG", DJANGO_ENV == "development")
    ALLOWED_HOSTS = env.list(
        "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"]
    )

CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "rules.apps.AutodiscoverRulesConfig",
    "simple_history",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal",
    "underwriting",
    "claims",
    "subsidies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "portal.middleware.PortalLocaleMiddleware",
    "portal.middleware.RejectNulMiddleware",
    "portal.api.ApiLanguageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "portal.middleware.ActiveFirmMiddleware",
    "portal.middleware.RequireMFAMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "portal.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env.url(
    "DATABASE_URL",
    {"sqlite", "postgres", "postgresql", "pgsql"},
    f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env.int("DB_CONN_MAX_AGE", 60, minimum=0)
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the web server, the worker and beat share the quick-start database.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker ----------------------------------------------------------------------------
REDIS_URL = env.url("REDIS_URL", {"redis", "rediss"}, None)
# A broker that is down or frozen must cost a web request a second or two, not hang it: the
# enqueue gives up (the row's status waits for the sweepers) instead of waiting for ever on a
# connection Redis never answers. Tried by tests/drills/test_broker_outage.py.
REDIS_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
}
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, keeping one Redis client instead of building one a call (see there).
            "BACKEND": "portal.cache_backends.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "portal"),
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_BROKER_TRANSPORT_OPTIONS)
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", "filesystem://")
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A worker child that grew past this (KiB) is replaced after its task: decoding a hostile
# upload's first page can take hundreds of MB, which should not stay resident.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD", 1024 * 1024, minimum=65536
)
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    # Reads each user's permissions through the cache and signs nobody in; the backends after it
    # then find the permissions already on the user (portal.access_cache).
    "portal.access_cache.CachedPermissionsBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "home"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", "5/5m/ip,5/5m/key"),
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[IP Insurance] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", "IP Insurance Portal")
# Staff and officers must have a TOTP authenticator; see portal.middleware.RequireMFAMiddleware.
PORTAL_REQUIRE_MFA = env.bool("PORTAL_REQUIRE_MFA", True)

# --- Mail -------------------------------------------------------------------------------------
# Development mail is printed and kept for the dev outbox page; production talks SMTP.
_mail_backend = env.str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "portal.mail.DevOutboxBackend",
)
_mail_options = {}
if _mail_backend.endswith("smtp.EmailBackend"):
    _mail_options = {
        "host": env.str("EMAIL_HOST", "localhost"),
        "port": env.int("EMAIL_PORT", 25, minimum=1, maximum=65535),
        "username": env.str("EMAIL_HOST_USER", ""),
        "password": env.str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env.bool("EMAIL_USE_TLS", False),
        "timeout": env.int("EMAIL_TIMEOUT", 20, minimum=1),
    }
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "noreply@ip-insurance.example")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- I18N -------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_NAME = "portal_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_HTTPONLY = True

# --- Static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str("PORTAL_MEDIA_ROOT", str(VAR_DIR / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    # Tokens for integrations (hashed, expiring, revocable); the browser's session for the rest.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "portal.api_views.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.api.StandardPagination",
    # DRF's parsers, with JSON refusing a too deeply nested document as a 400 (see the class).
    "DEFAULT_PARSER_CLASSES": [
        "portal.api_parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
    # Behind this many proxies the client address is read from X-Forwarded-For; with none (the
    # default) it is the connection's, so a caller cannot dodge the rate limit with a header.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", 0, minimum=0),
    "DEFAULT_THROTTLE_RATES": {
        "indicative_premium": env.str("API_PREMIUM_RATE", "60/minute"),
    },
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_DAYS", 90, minimum=1)),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": 20,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IP Insurance Portal API",
    "DESCRIPTION": (
        "The portal's own operations for brokers, partner platforms and government systems: "
        "the catalogue, applications and quotes, policies, claims and premium subsidies."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Several models have a field called "status"; each gets an enum named after its choices.
    "ENUM_NAME_OVERRIDES": {
        "AssetKindEnum": "portal.choices.AssetKind",
        "ApplicationStatusEnum": "underwriting.choices.ApplicationStatus",
        "QuoteStatusEnum": "underwriting.choices.QuoteStatus",
        "PolicyStatusEnum": "underwriting.choices.PolicyStatus",
        "PolicyDocumentStatusEnum": "underwriting.choices.DocumentStatus",
        "InstalmentStatusEnum": "underwriting.choices.InstalmentStatus",
        "ClaimStatusEnum": "claims.choices.ClaimStatus",
        "ClaimDocumentStatusEnum": "claims.choices.ClaimDocumentStatus",
        "SubsidyRequestStatusEnum": "subsidies.choices.RequestStatus",
        "DisbursementBatchStatusEnum": "subsidies.choices.BatchStatus",
    },
}

# --- Security ---------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Scripts only from our own files: no inline script, no eval, nothing from other hosts. Inline
# styles stay allowed because the admin's widgets, htmx's request indicator and the printable
# acknowledgement page set them; style cannot run code. Views that serve stored files set their
# own stricter policy (portal/files.py), which the middleware leaves alone.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    # Bootstrap draws checkboxes and select arrows with data: SVGs.
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # The health endpoint is probed over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

PORTAL_DEMO_PASSWORD = env.str("PORTAL_DEMO_PASSWORD", "demo-portal-2026")
HEALTHZ_WORKER_TIMEOUT = float(env.int("HEALTHZ_WORKER_TIMEOUT_MS", 1500, minimum=100)) / 1000
PORTAL_BASE_URL = env.str("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# Underwriting: how long a quote stays open, and the largest sum insured an underwriter without
# an authority record may quote alone.
QUOTE_VALIDITY_DAYS = env.int("QUOTE_VALIDITY_DAYS", 30, minimum=1)
UNDERWRITER_DEFAULT_AUTHORITY = env.str("UNDERWRITER_DEFAULT_AUTHORITY", "1000000")
# Binding: the shortest time the exclusion notice must be on screen before it can be confirmed,
# checked on the server against a signed display time (Insurance Law art. 17).
EXCLUSION_NOTICE_MIN_SECONDS = env.int("EXCLUSION_NOTICE_MIN_SECONDS", 30, minimum=0)
# Largest claim or subsidy document accepted, in bytes; uploads stream to disk, so memory does
# not grow with this.
CLAIM_UPLOAD_MAX_BYTES = env.int("CLAIM_UPLOAD_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
# History is evidence to read, never a way to rewrite a row around the services: no reverts.
SIMPLE_HISTORY_REVERT_DISABLED = True
