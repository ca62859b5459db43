"""Settings for the live dashboard service.

Every setting is read once, here, from the environment, with its type and default.
`.env.example` documents each variable. A missing or malformed value stops start-up
with a message naming the variable (see `hospital_dash.envreader`).
"""

from datetime import timedelta
from pathlib import Path

from dashboard.protocol.tiers import INTERVAL_S as TIER_INTERVAL_S
from dashboard.sources.redis_target import RedisTarget
from hospital_dash.envreader import EnvReader
from hospital_dash.logging_config import LOG_FORMATS, LOG_LEVELS, build_logging

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = EnvReader(exit_on_error=True)

# "production" (the default), "demo" or "test". Demo and test may run without SECRET_KEY.
DASH_ENV = env.choice("DASH_ENV", ("production", "demo", "test"), default="production")
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.secret(
    "SECRET_KEY",
    required=DASH_ENV == "production",
    fallback="insecure-key-for-demo-and-test-only",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Origins allowed on WebSocket handshakes besides the handshake's own scheme://host:port
# (contract §4; dashboard/realtime/handshake_auth.py): for a page served from another host name.
WS_ALLOWED_ORIGINS = env.origins("WS_ALLOWED_ORIGINS", default=[])

# HTTPS. In production the service is reached over TLS only, terminated by the proxy, which
# passes the scheme on in X-Forwarded-Proto (docs/DEPLOYMENT_GUIDE.md). Pages asked for over
# plain HTTP are redirected, except the three paths the load balancer and Prometheus ask each
# web process for directly: they carry no session, and /metrics answers only to its allowlist.
_HTTPS_ONLY = DASH_ENV == "production" and not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Strict-Transport-Security on every HTTPS answer (a year in production; 0 sends none).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Preloading is a promise about the whole registrable domain (hstspreload.org), made by its
# owner, not by this service, so `check --deploy` is not asked to warn that it is off.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "channels",
    "dashboard",
]

MIDDLEWARE = [
    "dashboard.web.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "dashboard.web.middleware.ContentSecurityPolicyMiddleware",
    # Static files from the app folders, in every environment (docs/OPERATIONS.md).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a lockout on the login form or admin into 429 (last, as django-axes requires).
    "axes.middleware.AxesMiddleware",
]

# Failed logins are throttled on every way in (dashboard/access/login_throttle.py): the axes
# backend first refuses a locked-out username or client address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "hospital_dash.urls"
ASGI_APPLICATION = "hospital_dash.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": env.database("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DASH_ENV == "test" and DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not SQLite's default in-memory test database, so threads (the access-log
    # writer, database_sync_to_async) all see the same tables.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(env.str("DASH_TEST_TMP", default=str(VAR_DIR))) / "pytest.sqlite3")
    }
# Django's connection pool for PostgreSQL, as it recommends under ASGI: without it every
# handshake's database call opened and closed a PostgreSQL connection (docs/OPERATIONS.md).
# Off by default for the test run's own process, whose per-test threads never hand theirs back.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_POOL", default=DASH_ENV != "test"
):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env.int("DATABASE_POOL_SIZE", default=20, minimum=2, maximum=500),
        "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The hospital's local time zone: "today" in every metric is a calendar day here.
TIME_ZONE = env.timezone("TIME_ZONE", default="UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the files straight from the apps' static folders: no collectstatic step,
# so there is no STATIC_ROOT.
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG and DASH_ENV == "production")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto count (contract §8; default:
# none). hospital_dash/asgi.py applies them on both servers, before Django and Channels see the
# request, so REMOTE_ADDR, the access log, the /metrics allowlist, the login throttle and
# request.is_secure() all use the same client address and scheme. There is deliberately no
# SECURE_PROXY_SSL_HEADER: Django would take X-Forwarded-Proto from any peer.
TRUSTED_PROXIES = env.networks("TRUSTED_PROXIES", default=[])

# --- Login throttling (django-axes, database handler: attempts in Django's database) -------
# Failures of one username, or from one client address, counted separately, that lock it out.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5, minimum=1, maximum=1000)
# Seconds a lockout lasts after the last attempt (each refused attempt starts it again).
LOGIN_COOLOFF_S = env.int("LOGIN_COOLOFF_S", default=900, minimum=1, maximum=86400)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_COOLOFF_S)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Not reset by a successful login: axes would delete the client address's attempts with the
# user's, so anyone with an account could log in between guesses at other accounts' passwords.
AXES_RESET_ON_SUCCESS = False
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "dashboard.access.login_throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "dashboard.access.login_throttle.client_address"
# Failed logins and lockouts go to the service's access log; axes's own log of successful
# logins would be a second, never pruned record.
AXES_DISABLE_ACCESS_LOG = True

# --- Data sources -------------------------------------------------------------------------
# Redis is either one URL or, for failover, a master found through Redis Sentinel: set
# REDIS_URL or REDIS_SENTINELS, not both (docs/OPERATIONS.md, "Redis with Sentinel").
env.one_of("REDIS_URL", "REDIS_SENTINELS")
REDIS_SENTINELS = env.hostports("REDIS_SENTINELS")
REDIS_URL = env.url("REDIS_URL", schemes=("redis", "rediss", "unix"), required=not REDIS_SENTINELS)
# With Sentinel: the monitored master's name, its database, and the data nodes' and the
# sentinels' passwords (none by default).
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER") if REDIS_SENTINELS else ""
REDIS_DB = env.int("REDIS_DB", default=0, maximum=15) if REDIS_SENTINELS else 0
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="") if REDIS_SENTINELS else ""
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="") if REDIS_SENTINELS else ""
_REDIS = RedisTarget(
    url=REDIS_URL,
    sentinels=tuple(REDIS_SENTINELS),
    master=REDIS_SENTINEL_MASTER,
    db=REDIS_DB,
    password=REDIS_PASSWORD or None,
    sentinel_password=REDIS_SENTINEL_PASSWORD or None,
)
MONGO_URL = env.url("MONGO_URL", schemes=("mongodb", "mongodb+srv"))
MONGO_DB = env.str("MONGO_DB", default="hospital")
MONGO_READ_PREFERENCE = env.choice(
    "MONGO_READ_PREFERENCE",
    ("primary", "primaryPreferred", "secondary", "secondaryPreferred", "nearest"),
    default="secondaryPreferred",
)
# Seconds a process waits for Redis or MongoDB at start-up before it says which URL failed.
SOURCE_CONNECT_TIMEOUT_S = env.float("SOURCE_CONNECT_TIMEOUT_S", default=5.0, minimum=0.1)

# --- Channels -----------------------------------------------------------------------------
# pubsub (default, chosen by measurement: docs/BENCHMARKS.md) or core (channels_redis's list-based layer).
CHANNEL_LAYER = env.choice("CHANNEL_LAYER", ("pubsub", "core"), default="pubsub")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": {
            "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "core": "channels_redis.core.RedisChannelLayer",
        }[CHANNEL_LAYER],
        # redis-py's default socket_timeout (5 s) equals the core layer's blocking wait in
        # receive() (BZPOPMIN, 5 s), so an idle receive raised TimeoutError every 5 s; both
        # layers pass these keys to redis-py's connection pool (a Sentinel-managed one with Sentinel).
        "CONFIG": {"hosts": [_REDIS.channel_layer_host(socket_timeout_s=10)], "prefix": "dash-layer"},
    }
}

# --- Celery -------------------------------------------------------------------------------
# With Sentinel: "sentinel://host:port/db;…" and the master's name in the transport options.
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = _REDIS.celery_broker()
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# Tier intervals are the contract's (§3), from the one tier registry; tests shorten none of them.
# A run that has not started by its next tick expires instead of piling up behind an outage.
CELERY_BEAT_SCHEDULE = {
    f"{tier}-tier": {
        "task": "dashboard.tasks.run_tier",
        "schedule": float(interval),
        "args": (tier,),
        "options": {"expires": float(interval)},
    }
    for tier, interval in TIER_INTERVAL_S.items()
}
# The critical tier recomputed from MongoDB as soon as the watcher's counters stop being live.
CELERY_BEAT_SCHEDULE["critical-on-lapse"] = {
    "task": "dashboard.tasks.critical_on_lapse",
    "schedule": 1.0,
    "options": {"expires": 1.0},
}
CELERY_BEAT_SCHEDULE["prune-access-log"] = {
    "task": "dashboard.tasks.prune_access_log",
    "schedule": 86400.0,
    "options": {"expires": 3600.0},
}

# --- Dashboard behaviour ------------------------------------------------------------------
ALERT_ESCALATE_AFTER_S = env.int("ALERT_ESCALATE_AFTER_S", default=300)
# Threshold alerts the service raises (docs/METRICS.md "Threshold alerts"): a department's
# occupancy rate strictly above THRESHOLD_OCCUPANCY, more than THRESHOLD_BOARDING_COUNT boarding
# patients, or a patient boarding longer than THRESHOLD_BOARDING_HOURS.
THRESHOLD_OCCUPANCY = env.positive("THRESHOLD_OCCUPANCY", default=0.9, maximum=1.0)
THRESHOLD_BOARDING_COUNT = env.int("THRESHOLD_BOARDING_COUNT", default=10, minimum=0, maximum=100_000)
THRESHOLD_BOARDING_HOURS = env.positive("THRESHOLD_BOARDING_HOURS", default=4.0, maximum=24 * 30)
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
MAX_CONNECTIONS_PER_USER = env.int("MAX_CONNECTIONS_PER_USER", default=10)
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
WATCH_FALLBACK = env.choice("WATCH_FALLBACK", ("poll", "fail"), default="poll")
# How long the watcher gathers changes of one department before one recomputation (≤ 250 ms).
WATCH_COALESCE_MS = env.int("WATCH_COALESCE_MS", default=50, minimum=1, maximum=250)
# How often the watcher checks its maintained counters against a recomputation from MongoDB.
WATCH_DRIFT_CHECK_S = env.int("WATCH_DRIFT_CHECK_S", default=300, minimum=1, maximum=86400)
# Fault injection for the crash tests (DASH_ENV=test only): seconds between a push and its token save.
WATCH_FAULT_HOLD_TOKEN_SAVE_S = (
    env.float("WATCH_FAULT_HOLD_TOKEN_SAVE_S", default=0.0) if DASH_ENV == "test" else 0.0
)

# --- API and tokens -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "dashboard.web.parsers.UnicodeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "dashboard.web.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI schema of the HTTP API (GET /api/schema/) and its Swagger UI (/api/docs/), both
# public: they describe the endpoints, never data. OpenAPI 3.1, whose schemas are JSON Schema
# 2020-12, like the protocol's (docs/protocol/). Swagger UI comes from the sidecar's static
# files, never a CDN, and sends the schema to no validator service.
SPECTACULAR_SETTINGS = {
    "TITLE": "Hospital live dashboard API",
    "DESCRIPTION": (
        "The HTTP API of the live dashboard (docs/API_REFERENCE.md, section 6). The WebSocket "
        "protocol at /ws/dashboard/ is described by the JSON Schemas in docs/protocol/."
    ),
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": "/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None},
    "ENUM_NAME_OVERRIDES": {"ErrorCode": "dashboard.protocol.errors.ErrorCode"},
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
}

# Seconds of clock difference JWTs are validated with: a token issued by a host whose clock is
# slightly ahead (`iat` in the future) or checked just after `exp` still counts (contract §8).
JWT_LEEWAY_S = env.int("JWT_LEEWAY_S", default=5, minimum=0, maximum=300)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME_S", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_LIFETIME_S", default=86400)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_TYPE_CLAIM": "token_type",
    "USER_ID_CLAIM": "user_id",
    # Tolerated clock difference with the host that issued a token, for `exp` and `iat` (contract §8).
    "LEEWAY": JWT_LEEWAY_S,
    "TOKEN_OBTAIN_SERIALIZER": "dashboard.access.tokens.LoginSerializer",
    "TOKEN_REFRESH_SERIALIZER": "dashboard.access.tokens.RefreshSerializer",
}

# json (production's default) or plain; what each line holds: hospital_dash/logging_config.py.
LOG_FORMAT = env.choice("LOG_FORMAT", LOG_FORMATS, default="json" if DASH_ENV == "production" else "plain")
LOGGING_CONFIG = "hospital_dash.logging_config.configure"
LOGGING = build_logging(LOG_FORMAT, env.choice("LOG_LEVEL", LOG_LEVELS, default="INFO"))
