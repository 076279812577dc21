from __future__ import annotations

import functools
import logging
import math
import time

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from webapp.lazytext import _l

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = _l("请先登录。")
login_manager.login_message_category = "info"
# "strong" would log a user out when the phone switches from Wi-Fi to mobile data.
login_manager.session_protection = "basic"

csrf = CSRFProtect()

# Storage comes from RATELIMIT_STORAGE_URI (memory:// on one host, redis:// when several hosts share it).
limiter = Limiter(key_func=get_remote_address)


@functools.lru_cache(maxsize=32)
def _limit_items(spec: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(spec))


# Counts this process's hits while the shared storage (Redis) cannot answer: the limit then holds per worker
# rather than not at all, and scans at the gates go on.
_FALLBACK = FixedWindowRateLimiter(MemoryStorage())


def seconds_over_limit(spec: str, scope: str, key: str) -> int | None:
    """Count one request of ``key`` against ``spec`` (e.g. ``"120 per minute"``) in Flask-Limiter's own storage
    and strategy, as ``@limiter.limit(spec, key_func=…)`` would; None when it is allowed, else the whole seconds
    until the window that refused it resets (the Retry-After). When the storage cannot answer, this worker counts
    on its own (logged) instead of failing the request.

    For the verification API, which gates call for every passenger: Flask-Limiter's decorator resolves the
    route's limits on every request, which cost about a tenth of a scan (bench/RESULTS.md); this counts the
    same hits in the same place with none of that.
    """
    return _with_fallback(_count, spec, scope, key)


def seconds_blocked(spec: str, scope: str, key: str) -> int | None:
    """Whether ``key`` has used up ``spec`` in ``scope``, without counting a hit: None when one more request would
    be allowed, else the seconds until it would be (the Retry-After). Same storage and fallback as
    :func:`seconds_over_limit`."""
    return _with_fallback(_peek, spec, scope, key)


def _with_fallback(operation, spec: str, scope: str, key: str) -> int | None:
    """Run ``operation`` on Flask-Limiter's configured strategy; on this worker's own memory when its storage
    cannot answer (logged), so a Redis outage never fails a request."""
    if not limiter.enabled:
        return None
    strategy = limiter.limiter
    try:
        return operation(strategy, spec, scope, key)
    except (StorageError, *_exceptions_of(strategy)) as error:
        logging.getLogger(__name__).warning("rate-limit storage unavailable (%s): counting in this worker",
                                            error.__class__.__name__)
        return operation(_FALLBACK, spec, scope, key)


def _peek(strategy, spec: str, scope: str, key: str) -> int | None:
    for item in _limit_items(spec):
        if not strategy.test(item, scope, key):
            reset_at = strategy.get_window_stats(item, scope, key).reset_time
            return max(1, math.ceil(reset_at - time.time()))
    return None


def _exceptions_of(strategy) -> tuple[type[BaseException], ...]:
    errors = strategy.storage.base_exceptions
    return errors if isinstance(errors, tuple) else (errors,)


def _count(strategy, spec: str, scope: str, key: str) -> int | None:
    for item in _limit_items(spec):
        if not strategy.hit(item, scope, key):
            reset_at = strategy.get_window_stats(item, scope, key).reset_time
            return max(1, math.ceil(reset_at - time.time()))
    return None
