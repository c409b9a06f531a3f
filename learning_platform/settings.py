"""Leitmotif settings, read from environment variables.

SQLite is the zero-setup default; ``DATABASE_URL`` switches to PostgreSQL. ``KG_BACKEND`` picks the
knowledge-graph store by name (``sql`` embedded in this database, or ``neo4j``). With ``DEBUG`` off a
missing ``DJANGO_SECRET_KEY`` is an error rather than a silent insecure default.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true/false, 1/0, yes/no or on/off.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number; e.g. {name}={default}.") from None
    if value < 0:
        raise ImproperlyConfigured(f"{name}={raw!r} must be 0 or more; e.g. {name}={default}.")
    return value


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. With DJANGO_DEBUG off a secret key is required: "
            "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(50))'` and export it."
        )
    SECRET_KEY = "insecure-development-only-key-never-used-when-debug-is-off"

ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # Bottom to top (the layers in pyproject.toml's import-linter contract); the README has the map.
    "jobs",
    "catalog",
    "accounts",
    "api",
    "kg",
    "ingestion",
    "curation",
    "recommender",
    "audio",
    "curriculum",
    "practice",
    "privacy",
    "learning_platform.learn",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "learning_platform.learn.middleware.NotALearnerPageMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

# Brute-force protection on every password login (/login/, /admin/login/): django-axes counts failures
# per (username, client address) and refuses that pair for LOGIN_LOCKOUT_MINUTES after
# LOGIN_FAILURE_LIMIT failures, the right password included; a success resets the count.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# Behind a reverse proxy, the client address comes from X-Forwarded-For (set DJANGO_BEHIND_PROXY=true).
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if env_bool("DJANGO_BEHIND_PROXY", False) else ["REMOTE_ADDR"]
)

ROOT_URLCONF = "learning_platform.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "learning_platform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "learning_platform.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web server read while a loader writes; a busy timeout avoids spurious "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            # IMMEDIATE takes the write lock at BEGIN, so a loader and the web app never deadlock mid-transaction.
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "learn:login"

# --- Leitmotif ------------------------------------------------------------------------------

# Where the shared data sets live (see its README); the loaders take an explicit path too.
LEITMOTIF_DATA_DIR = Path(os.environ.get("LEITMOTIF_DATA_DIR", BASE_DIR.parent / "shared" / "data"))
# Trained models (KGE embeddings, recommenders) and the PUBLISHED pointer of the serving model.
LEITMOTIF_ARTIFACTS_DIR = Path(os.environ.get("LEITMOTIF_ARTIFACTS_DIR", BASE_DIR / "artifacts"))
# Derived files that can be rebuilt at any time (rendered audio, spectrogram features): outside the repo.
LEITMOTIF_CACHE_DIR = Path(
    os.environ.get("LEITMOTIF_CACHE_DIR", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "leitmotif")
)

# Text ingestion (ingestion/): documents larger than this are refused with a clear error, and extracted
# triples above the confidence go straight into the graph (the rest wait in the review queue; 1.0 = review all).
INGESTION_MAX_DOCUMENT_BYTES = int(os.environ.get("INGESTION_MAX_DOCUMENT_BYTES", 2_000_000))
# Default 1.0 (a curator reviews every fact): at 0.9, 18 of 40 hand-labelled auto-accepted triples were
# right (benchmarks/ingestion_throughput.py), and confidence did not separate right from wrong.
INGESTION_AUTO_ACCEPT_CONFIDENCE = float(os.environ.get("INGESTION_AUTO_ACCEPT_CONFIDENCE", 1.0))
# Who runs API ingestion jobs: "thread" (in the web process), "worker" (process_ingestion_jobs) or "inline".
INGESTION_JOB_RUNNER = os.environ.get("INGESTION_JOB_RUNNER", "thread")

# FluidSynth renders the works catalogue (audio/render.py); Debian: fluidsynth, fluid-soundfont-gm.
FLUIDSYNTH_BINARY = os.environ.get("FLUIDSYNTH_BINARY", "fluidsynth")
FLUIDSYNTH_SOUNDFONT = os.environ.get("FLUIDSYNTH_SOUNDFONT", "/usr/share/sounds/sf2/FluidR3_GM.sf2")

# Audio (audio/): analysis sample rate, the longest recording accepted, the largest upload.
AUDIO_SAMPLE_RATE = int(os.environ.get("AUDIO_SAMPLE_RATE", 22050))
AUDIO_MAX_SECONDS = float(os.environ.get("AUDIO_MAX_SECONDS", 600))
AUDIO_MAX_UPLOAD_BYTES = int(os.environ.get("AUDIO_MAX_UPLOAD_BYTES", 50_000_000))

# Who the product recommender trains on (recommender/data.py, InteractionDataset.from_catalog): "kgcn" =
# the KGCN-linked subset (the default: it trains in minutes and is what every figure in the README was
# measured on; the offline protocols always use it), "catalog" = every loaded artist, so all of HetRec
# (Chopin, Mozart …) can be recommended directly, at a training time the README gives. With "kgcn",
# artists outside the model still steer a learner's list through their tags when picked.
RECOMMENDER_POPULATION = os.environ.get("RECOMMENDER_POPULATION", "kgcn")

# Knowledge-graph store, chosen by registry name (see kg/stores/registry.py).
KG_BACKEND = os.environ.get("KG_BACKEND", "sql")
NEO4J_URI = os.environ.get("NEO4J_URI", "bolt://127.0.0.1:7687")
NEO4J_USER = os.environ.get("NEO4J_USER", "neo4j")
NEO4J_PASSWORD = os.environ.get("NEO4J_PASSWORD", "")
NEO4J_DATABASE = os.environ.get("NEO4J_DATABASE", "neo4j")

# The REST API (recommender/api, versioned under /api/v1/): token auth for programs, session auth for
# the browser; learners see only their own data, "api-readonly" client tokens may only read.
# Throttle rates come from the environment so a deployment (or a benchmark) can tune them.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ApiAccess"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.UserThrottle",
        "api.throttling.AnonThrottle",
        "api.throttling.InteractionThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("API_THROTTLE_USER", "1200/minute"),
        "anon": os.environ.get("API_THROTTLE_ANON", "60/minute"),
        "interactions": os.environ.get("API_THROTTLE_INTERACTIONS", "120/minute"),
    },
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    "DEFAULT_METADATA_CLASS": "api.metadata.LeitmotifMetadata",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Leitmotif API",
    "DESCRIPTION": (
        "Knowledge-graph-centric music-learning platform: explained recommendations of artists and courses, "
        "the catalog, the knowledge graph and the learner's own history and interactions. Authenticate with "
        "`Authorization: Token <key>` (tokens: `python manage.py create_api_client NAME [--read-only]`) or a "
        'session. Every error has the shape `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Group operations by the segment after /api/v1/ (artists, courses, entities, me, users).
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI assets come from the drf-spectacular-sidecar package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation lists the statuses DRF's machinery can answer (auth, throttling, size, media type).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_every_status",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# HTTPS in production (all off by default so `make demo` works over plain http on 127.0.0.1): HSTS,
# redirecting http to https, and the proxy header that says a request came in over https.
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", False)
if env_bool("DJANGO_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if not DEBUG:
    # In production WhiteNoise serves the collected static files (runserver does it in DEBUG).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)

# --- Celery (task queue: learning_platform/celery.py, job records: jobs/) ------------------------------
# Without CELERY_BROKER_URL every task runs eagerly in the calling process (zero-setup first run); with it
# (e.g. redis://:password@127.0.0.1:6379/0) the web process only queues, and `celery -A learning_platform worker`
# runs them. Job status lives in jobs.Job rows, so no result backend is needed.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "leitmotif"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message is acknowledged when its task ends; a worker lost mid-task (hard time limit, memory) leaves it
# to be redelivered. One message at a time per process: the jobs are long.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Limits: a soft limit (the task records a failure) then a hard one (the child is killed); a child process
# is replaced after this many KiB of resident memory or this many tasks (torch and spaCy keep memory).
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3 * 3600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3 * 3600 + 300)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 3_000_000)
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 20)
# Redis redelivers an unacknowledged message after the visibility timeout: longer than any task may run.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
# celery beat: the periodic work that used to be `--every` loops (the commands still run once by hand).
CELERY_BEAT_SCHEDULE = {
    "refresh-models": {
        "task": "recommender.refresh_models",
        "schedule": float(env_int("REFRESH_EVERY_SECONDS", 900)),
        "kwargs": {"only_if_new_facts": True},
    },
    "retrain-recommender": {
        "task": "recommender.retrain",
        "schedule": float(env_int("RETRAIN_EVERY_SECONDS", 3600)),
        "kwargs": {"only_if_new_interactions": True},
    },
}
if CELERY_BROKER_URL and not os.environ.get("INGESTION_JOB_RUNNER"):
    INGESTION_JOB_RUNNER = "celery"  # with a broker, API ingestion jobs go to the worker, never a web thread
