"""A real Huey consumer for tests about the queue, and stand-in engines for tests of queue states.

The consumer is Huey's own (``Consumer`` with thread workers), polling the test's own SQLite queue file (or
Redis); only its signal handlers are left out, since the test process keeps its own. Tests of a face decision
use the real engine through it; tests of a queue state (position, deciding, budget, dead worker) may pass one of the
stand-ins below, named as such, as the app's face engine (``create_app(face_engine=…)``, ``app.extensions``).
"""
from __future__ import annotations

import io
import threading
import time

import numpy as np
from huey.consumer import Consumer
from PIL import Image
from sqlalchemy import text

from webapp import queue
from webapp.db import Base
from webapp.proofing.engine import Decision


class ThreadConsumer(Consumer):
    """Huey's consumer, run from a test: thread workers, no signal handlers, fast polling."""

    def __init__(self, workers: int = 1, periodic: bool = False) -> None:
        super().__init__(queue.huey, workers=workers, worker_type="thread", periodic=periodic,
                         initial_delay=0.01, backoff=1.2, max_delay=0.05, check_worker_health=False)

    def _set_signal_handlers(self) -> None:
        pass

    def __enter__(self) -> "ThreadConsumer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop(graceful=True)


def camera_jpeg(shade: int = 128) -> bytes:
    """A 640x480 JPEG as a canvas makes one: a valid frame header for the stand-in engine (no face in it)."""
    out = io.BytesIO()
    Image.fromarray(np.full((480, 640, 3), shade, dtype=np.uint8)).save(out, "JPEG", quality=80)
    return out.getvalue()


class StandInEngine:
    """A stand-in face engine (NOT a face decision) that answers at once with the decision the test chose, and
    counts its calls: for tests of a clock boundary or of single use, which must not run dlib."""

    def __init__(self, passed: bool = True, reason: str | None = None) -> None:
        self.passed, self.reason = passed, reason
        self.calls = 0

    def __call__(self, blink, colour, plan, reference, policy, timeline=None):
        self.calls += 1
        return Decision(passed=self.passed, reason=self.reason, scores={"stand_in": True})


class BlockingStandInEngine:
    """A stand-in face engine (NOT a face decision): it signals that a worker is deciding, then waits
    until the test releases it, and returns the decision the test chose."""

    def __init__(self, passed: bool = True, reason: str | None = None) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.passed, self.reason = passed, reason

    def __call__(self, blink, colour, plan, reference, policy, timeline=None):
        self.started.set()
        self.release.wait(30)
        return Decision(passed=self.passed, reason=self.reason, scores={"stand_in": True})


class DyingStandInEngine:
    """A stand-in face engine whose worker dies mid-decision (SystemExit is not an error a job can
    catch): the challenge is left ``deciding`` with nobody working on it, as after a kill -9."""

    def __call__(self, blink, colour, plan, reference, policy, timeline=None):
        raise SystemExit("stand-in worker killed")


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    """Poll ``predicate()`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s: {predicate}")


def truncate_all(engine) -> None:
    """Empty every table of a committed test database (the savepoint trick does not cross threads)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
