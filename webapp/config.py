"""Settings from the environment, with an embedded default (SQLite in instance/).

Every number that is a rule of the real services is a named setting here, with the published default.
"""
from __future__ import annotations

import os
from pathlib import Path

PRODUCTION = "production"


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


SECRET_KEY_FILE = "secret_key"   # in the instance folder: written once by `make run` (mode 600)
SIGNING_KEYS_DIR = "signing_keys"  # in the instance folder: the QR tokens' private keys (`keys init`, `make run`)
INSTANCE_ENV_FILE = "vapid.env"  # in the instance folder: `make run` writes the VAPID pair there once
# Only these settings may come from the instance env file; anything else in it is ignored.
_INSTANCE_ENV_NAMES = ("SUISHEN_VAPID_PUBLIC_KEY", "SUISHEN_VAPID_PRIVATE_KEY", "SUISHEN_VAPID_SUBJECT")


def _read_secret_file(instance_path: str) -> str | None:
    """The key `make run` wrote to instance/secret_key, so `flask --app app <command>` and the server share it
    without anyone exporting it by hand. None without the file (or an empty one): never a default key."""
    try:
        text = (Path(instance_path) / SECRET_KEY_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def _read_instance_env(instance_path: str) -> dict[str, str]:
    """NAME=value lines of instance/vapid.env (the VAPID settings only); the environment wins over them."""
    try:
        lines = (Path(instance_path) / INSTANCE_ENV_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    values = {}
    for line in lines:
        name, sep, value = line.strip().partition("=")
        if sep and name in _INSTANCE_ENV_NAMES:
            values[name] = value.strip()
    return values


def from_environment(instance_path: str) -> dict:
    """The settings: the environment first; SECRET_KEY and the VAPID keys fall back to the files `make run`
    writes into the instance folder (instance/secret_key, instance/vapid.env)."""
    from_files = _read_instance_env(instance_path)

    def env_or_file(name: str, default: str = "") -> str:  # set in the environment (even empty) wins
        return os.environ[name] if name in os.environ else from_files.get(name, default)

    env = os.environ.get("SUISHEN_ENV", PRODUCTION)
    base_url = os.environ.get("BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    sqlite_path = Path(instance_path) / "suishen.db"
    return {
        "SUISHEN_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _read_secret_file(instance_path),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{sqlite_path}",
        "BASE_URL": base_url,
        "SUISHEN_DEMO": _bool("SUISHEN_DEMO", False),
        # Demo self-enrolment (/demo/enrol) POSTs per IP, refused ones included (a refusal tells whether an ID
        # number is in the registry).
        "SUISHEN_DEMO_ENROL_RATE_LIMIT": os.environ.get("SUISHEN_DEMO_ENROL_RATE_LIMIT", "5 per hour;20 per day"),
        # Rate-limit counters are shared between workers/hosts through Redis in a multi-host set-up.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        # X-RateLimit-Limit/Remaining/Reset on every limited answer cost two extra storage round trips per request
        # (Flask-Limiter re-reads the window after counting the hit); nothing documented or shipped reads them.
        # A refused request still gets 429 with Retry-After (webapp/web/errors.py) either way.
        "RATELIMIT_HEADERS_ENABLED": _bool("RATELIMIT_HEADERS_ENABLED", False),
        "SESSION_COOKIE_SECURE": _bool("SUISHEN_SECURE_COOKIES", base_url.startswith("https://")),
        "SUISHEN_PROXY_COUNT": int(os.environ.get("SUISHEN_PROXY_COUNT", "0")),
        # rules.DEFAULT_CHECKS_SETTING (docs/liveness.md says what each stops); a fake camera runs blink,match
        "SUISHEN_LIVENESS_CHECKS": os.environ.get("SUISHEN_LIVENESS_CHECKS", "blink,turn,colour,reflection,depth,match"),
        "SUISHEN_FACE_TOLERANCE": float(os.environ.get("SUISHEN_FACE_TOLERANCE", "0.6")),
        "SUISHEN_KEEP_FRAMES": _bool("SUISHEN_KEEP_FRAMES", False),
        "SUISHEN_PROOFING_MAX_FAILURES": int(os.environ.get("SUISHEN_PROOFING_MAX_FAILURES", "3")),
        # The task queue of face decisions (webapp/queue.py): empty = SQLite file instance/queue.db (one machine,
        # no server); redis://host:6379/1 = Redis shared by web hosts and face-worker hosts.
        "SUISHEN_QUEUE_URL": os.environ.get("SUISHEN_QUEUE_URL", ""),
        # Face-worker processes serving the queue: `make run` starts this many; the expected wait divides by it.
        # 0 = one per core of this machine. With face workers on other hosts, set it to their total.
        "SUISHEN_QUEUE_WORKERS": int(os.environ.get("SUISHEN_QUEUE_WORKERS", "0")) or (os.cpu_count() or 1),
        # A new challenge is refused (503 + Retry-After) while the expected wait for a decision exceeds this.
        "SUISHEN_PROOFING_MAX_WAIT": float(os.environ.get("SUISHEN_PROOFING_MAX_WAIT", "20")),
        # Seconds a face worker may spend on one decision; beyond it (or when its worker died) the attempt ends
        # as a system failure that does not count as the person's failed try.
        "SUISHEN_PROOFING_DECISION_BUDGET": float(os.environ.get("SUISHEN_PROOFING_DECISION_BUDGET", "30")),
        # Seconds a submission may wait in the queue before it is failed the same way (frames expire with it).
        "SUISHEN_PROOFING_QUEUE_TIMEOUT": float(os.environ.get("SUISHEN_PROOFING_QUEUE_TIMEOUT", "120")),
        # The decision time assumed until the queue has measured some (moving average in the queue store).
        "SUISHEN_PROOFING_DECISION_SECONDS": float(os.environ.get("SUISHEN_PROOFING_DECISION_SECONDS", "1.5")),
        # New challenges (calling flows and 重新核验), counted per IP, per browser session and per citizen; and
        # frame submissions, per the same three.
        "SUISHEN_PROOFING_START_LIMIT_IP": os.environ.get("SUISHEN_PROOFING_START_LIMIT_IP",
                                                          "20 per minute;200 per hour"),
        "SUISHEN_PROOFING_START_LIMIT_SESSION": os.environ.get("SUISHEN_PROOFING_START_LIMIT_SESSION",
                                                               "10 per minute;40 per hour"),
        "SUISHEN_PROOFING_START_LIMIT_CITIZEN": os.environ.get("SUISHEN_PROOFING_START_LIMIT_CITIZEN",
                                                               "10 per minute;40 per hour"),
        "SUISHEN_PROOFING_SUBMIT_LIMIT": os.environ.get("SUISHEN_PROOFING_SUBMIT_LIMIT", "12 per minute"),
        # Cities where the travel ID is offered (Chinese names, comma-separated); empty = nationwide.
        "SUISHEN_TRAVEL_ID_CITIES": os.environ.get("SUISHEN_TRAVEL_ID_CITIES", ""),
        # Verification API (SPEC 6): per API key (or per IP without one), and the largest JSON body accepted.
        "SUISHEN_API_RATE_LIMIT": os.environ.get("SUISHEN_API_RATE_LIMIT", "120 per minute"),
        "SUISHEN_API_MAX_BODY": int(os.environ.get("SUISHEN_API_MAX_BODY", "16384")),
        # How long each worker remembers an API key that checked out (saves a lookup per scan); a revoked key
        # stops working on every worker within this many seconds. 0 looks the key up on every request.
        "SUISHEN_API_KEY_CACHE_SECONDS": float(os.environ.get("SUISHEN_API_KEY_CACHE_SECONDS", "5")),
        "SUISHEN_PUBLIC_VERIFY_RATE_LIMIT": os.environ.get("SUISHEN_PUBLIC_VERIFY_RATE_LIMIT", "30 per minute"),
        # Where the e-licence is offered (SPEC 5.2): nationwide | pilot3 | cities28 | a comma list of cities.
        "SUISHEN_LICENCE_REGIONS": os.environ.get("SUISHEN_LICENCE_REGIONS", "nationwide"),
        # The QR page polls once a minute plus 刷新; this bounds a runaway client per certificate.
        # A scanned QR is accepted in its own 60 s window and this many windows after (a gate's delay).
        "SUISHEN_QR_GRACE_WINDOWS": int(os.environ.get("SUISHEN_QR_GRACE_WINDOWS", "1")),
        "SUISHEN_QR_RATE_LIMIT": os.environ.get("SUISHEN_QR_RATE_LIMIT", "30 per minute"),
        # Offline verification (issue 17): the folder of the private keys that sign QR tokens (outside the
        # database; every web host needs the same files), and how old the cached status list may be before the
        # officer scan page answers 无法确认 offline; `keys rotate` publishes a new key this long before it signs.
        "SUISHEN_SIGNING_KEYS": os.environ.get("SUISHEN_SIGNING_KEYS") or str(Path(instance_path) / SIGNING_KEYS_DIR),
        "SUISHEN_OFFLINE_STATUS_MAX_AGE": int(os.environ.get("SUISHEN_OFFLINE_STATUS_MAX_AGE", "3600")),
        # SMS (SPEC 5.1, 8): the gateway ('outbox' = the embedded outbox table, or 'package.module:Class'),
        # code lifetime, resend cool-down, per-phone caps and wrong tries; plus a per-IP limit on the send route.
        "SUISHEN_SMS_GATEWAY": os.environ.get("SUISHEN_SMS_GATEWAY", "outbox"),
        "SUISHEN_SMS_CODE_TTL": int(os.environ.get("SUISHEN_SMS_CODE_TTL", "300")),
        "SUISHEN_SMS_RESEND_COOLDOWN": int(os.environ.get("SUISHEN_SMS_RESEND_COOLDOWN", "60")),
        "SUISHEN_SMS_MAX_PER_HOUR": int(os.environ.get("SUISHEN_SMS_MAX_PER_HOUR", "5")),
        "SUISHEN_SMS_MAX_PER_DAY": int(os.environ.get("SUISHEN_SMS_MAX_PER_DAY", "10")),
        "SUISHEN_SMS_MAX_ATTEMPTS": int(os.environ.get("SUISHEN_SMS_MAX_ATTEMPTS", "5")),
        "SUISHEN_SMS_RATE_LIMIT": os.environ.get("SUISHEN_SMS_RATE_LIMIT", "5 per minute;20 per hour"),
        # Per-account sign-in throttling (SPEC 8), whatever the IP: the Nth wrong password in a row locks the
        # phone / ID number / officer username for BACKOFF_BASE seconds, each further failure doubles the lock up
        # to BACKOFF_MAX; failures older than FAILURE_MEMORY seconds are forgotten; a good sign-in clears them.
        "SUISHEN_LOGIN_MAX_FAILURES": int(os.environ.get("SUISHEN_LOGIN_MAX_FAILURES", "5")),
        "SUISHEN_LOGIN_BACKOFF_BASE": int(os.environ.get("SUISHEN_LOGIN_BACKOFF_BASE", "60")),
        "SUISHEN_LOGIN_BACKOFF_MAX": int(os.environ.get("SUISHEN_LOGIN_BACKOFF_MAX", "3600")),
        "SUISHEN_LOGIN_FAILURE_MEMORY": int(os.environ.get("SUISHEN_LOGIN_FAILURE_MEMORY", "86400")),
        # Web Push to the installed PWA (SPEC 5.2): VAPID keys (`flask --app app push vapid-keys` makes a pair).
        "SUISHEN_VAPID_PUBLIC_KEY": env_or_file("SUISHEN_VAPID_PUBLIC_KEY"),
        "SUISHEN_VAPID_PRIVATE_KEY": env_or_file("SUISHEN_VAPID_PRIVATE_KEY"),
        "SUISHEN_VAPID_SUBJECT": env_or_file("SUISHEN_VAPID_SUBJECT", "mailto:admin@localhost"),
        # Pushes go only to public push services (SPEC 8, issue 12): https on port 443, a host on this list
        # ("*.x.com" = any sub-domain of x.com) AND every address it resolves to public, checked when a browser
        # subscribes and again right before each push. Empty = any host whose addresses are all public.
        "SUISHEN_PUSH_ALLOWED_HOSTS": os.environ.get(
            "SUISHEN_PUSH_ALLOWED_HOSTS",
            "fcm.googleapis.com,updates.push.services.mozilla.com,*.push.apple.com,*.notify.windows.com"),
        # Seconds to connect to a push service, and again to read its answer (a push is a job on the task queue,
        # notify.push, run by the face workers: a stalled push service must not hold one long).
        "SUISHEN_PUSH_TIMEOUT": float(os.environ.get("SUISHEN_PUSH_TIMEOUT", "5")),
        # The operator's State Council holiday schedule (JSON, same shape as webapp/data/workday_schedule.json).
        "SUISHEN_WORKDAY_SCHEDULE": os.environ.get("SUISHEN_WORKDAY_SCHEDULE", ""),
        "MAX_CONTENT_LENGTH": int(os.environ.get("SUISHEN_MAX_UPLOAD", str(8 * 1024 * 1024))),
    }


DEFAULTS = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": 3600,
    "WTF_I18N_ENABLED": False,  # WTForms' bundled zh catalogue or its English (webapp/web/forms.py)
}


def check(config: dict) -> None:
    """Refuse to start a production app without a real secret."""
    if config["SUISHEN_ENV"] == PRODUCTION and not config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY is not set and there is no instance/secret_key. Set SECRET_KEY to a long random value "
            "(make run writes one to instance/secret_key, which the app and `flask --app app` read), or "
            "SUISHEN_ENV=development for a throw-away development key."
        )
    config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
