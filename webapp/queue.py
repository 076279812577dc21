"""The task queue (Huey): one instance for the process, built from SUISHEN_QUEUE_URL, usable without a request.

Why Huey (README, "The task queue"): it is the only one of the three engines the issue names whose one-machine
form needs no server at all (SqliteHuey: a file in ``instance/``), and the same jobs run across hosts on Redis
(RedisHuey) with one setting changed. Celery and Dramatiq both need a broker server (Redis or RabbitMQ) even on
one machine, which SPEC §3 rules out for the embedded default.

``SUISHEN_QUEUE_URL``:

- empty: ``SqliteHuey`` at ``instance/queue.db`` (one machine; the consumer polls the file every ≤ 0.25 s);
- ``redis://host:6379/0``: ``RedisHuey`` (many hosts; the consumer blocks on the list, no polling);
- ``sqlite:///path/to/queue.db``: ``SqliteHuey`` at that file;
- ``immediate://``: jobs run in the process that enqueues them, at once, on an in-memory store. For tests that
  are not about the queue itself, never for a server (a decision would run inside the page worker again).

Jobs live in each domain's ``tasks.py`` and are registered on the one :data:`huey` at import, as Huey wants;
:func:`init_app` (called by ``create_app``) points that instance at the configured storage and remembers the
app, so a job can open an app context (its database session, settings and clock) in the consumer.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from flask import Flask
from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

log = logging.getLogger(__name__)

#: The empty-queue polling of a SqliteHuey consumer: Huey's default backs off to 10 s, which would add up to
#: 10 s to the first decision after a quiet spell; 0.25 s costs one indexed SELECT per worker per 0.25 s.
SQLITE_MAX_POLL_SECONDS = 0.25
#: Key of the moving average of decision durations, kept in the queue's own key-value store.
DECISION_SECONDS_KEY = "proofing:decision_seconds"
#: Weight of the newest decision in that moving average (about the last ten decisions count).
DECISION_SECONDS_WEIGHT = 0.2
IMMEDIATE = "immediate://"

huey = Huey("suishen", results=False, immediate=False, storage_class=MemoryStorage)
_state: dict = {"app": None, "url": None}


def storage_for(url: str, instance_path: str) -> tuple[type, dict]:
    """The Huey storage class and its arguments for a SUISHEN_QUEUE_URL value."""
    if not url:
        return SqliteStorage, {"filename": str(Path(instance_path) / "queue.db"), "timeout": 30}
    if url.startswith("sqlite:///"):
        return SqliteStorage, {"filename": url.removeprefix("sqlite:///"), "timeout": 30}
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage, {"url": url}
    if url == IMMEDIATE:
        return MemoryStorage, {}
    raise RuntimeError(f"SUISHEN_QUEUE_URL={url!r}: use empty (SQLite in instance/), redis://… or sqlite:///…")


def init_app(app: Flask) -> None:
    """Point the process's Huey at ``SUISHEN_QUEUE_URL`` and make ``app`` the one jobs run in."""
    url = app.config["SUISHEN_QUEUE_URL"]
    _state["app"] = app
    app.extensions["huey"] = huey
    if _state["url"] == (url, app.instance_path) and url != IMMEDIATE:
        return  # the same store: keep its connection (an immediate app gets a fresh in-memory store, below)
    storage_class, kwargs = storage_for(url, app.instance_path)
    if storage_class is SqliteStorage:
        os.makedirs(os.path.dirname(kwargs["filename"]) or ".", exist_ok=True)
    try:
        huey.storage.close()
    except Exception:  # noqa: BLE001 - the old storage may never have connected
        pass
    huey._immediate = url == IMMEDIATE
    huey.storage_class = storage_class
    huey.storage_kwargs = kwargs
    huey.storage = huey.create_storage() if not huey._immediate else MemoryStorage(huey.name)
    _state["url"] = (url, app.instance_path)


def current_app_for_jobs() -> Flask:
    app = _state["app"]
    if app is None:
        raise RuntimeError("no app: create_app() configures the queue (the consumer runs `flask queue worker`)")
    return app


def is_immediate() -> bool:
    return huey.immediate


def decision_seconds(default: float) -> float:
    """The moving average of decision durations (seconds), or ``default`` before the first one."""
    try:
        raw = huey.storage.peek_data(DECISION_SECONDS_KEY)
    except Exception:  # noqa: BLE001 - an unreachable queue store must not fail a page; admission uses the default
        log.warning("queue store unavailable: using the default decision time")
        return default
    try:
        return float(raw.decode() if isinstance(raw, bytes) else raw)
    except (TypeError, ValueError, AttributeError):
        return default


def record_decision_seconds(seconds: float, default: float) -> float:
    """Fold one measured decision into the moving average (last writer wins between workers: it is an estimate)."""
    old = decision_seconds(default)
    new = old + DECISION_SECONDS_WEIGHT * (seconds - old)
    if not math.isfinite(new):
        new = default
    huey.storage.put_data(DECISION_SECONDS_KEY, repr(round(new, 4)).encode())
    return new


def pending() -> int:
    """Jobs waiting in the queue (all kinds), as the storage counts them."""
    return huey.pending_count()
