"""Enqueue → start latency of a Huey job, SqliteHuey (the one-machine default) vs RedisHuey (many hosts).

    .venv/bin/python bench/queue_latency.py [--jobs 40]

Each job records when a worker started it; jobs are enqueued one at a time with a pause between them, so every
job finds the consumer idle (the worst case for a polling queue: SQLite is polled, Redis blocks on BRPOP). The
consumer is Huey's own, with the options `flask queue worker` uses (SQLite polled every <= 0.25 s).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from huey import RedisHuey, SqliteHuey
from huey.consumer import Consumer

import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from webapp.queue import SQLITE_MAX_POLL_SECONDS  # noqa: E402


class QuietConsumer(Consumer):
    def _set_signal_handlers(self) -> None:
        pass


def measure(huey, options: dict, jobs: int, pause: float) -> list[float]:
    @huey.task()
    def stamp(sent: float) -> None:
        huey.storage.put_data(f"lat:{sent}", repr(time.time() - sent).encode())

    consumer = QuietConsumer(huey, workers=1, worker_type="thread", periodic=False, check_worker_health=False,
                             **options)
    consumer.start()
    time.sleep(1.0)  # let the poll delay back off to its maximum: the idle case
    sent = []
    for _ in range(jobs):
        now = time.time()
        stamp(now)
        sent.append(now)
        time.sleep(pause)
    time.sleep(1.0)
    consumer.stop(graceful=True)
    return [float(huey.storage.peek_data(f"lat:{s}").decode()) * 1000 for s in sent]


def report(name: str, values: list[float]) -> None:
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    print(f"{name:30s} n={len(values):3d}  median {statistics.median(values):7.1f} ms  p90 {p(0.9):7.1f} ms  "
          f"max {values[-1]:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SqliteHuey("bench", filename=str(Path(tmp) / "queue.db"), results=False)
        report("SqliteHuey (poll <= 0.25 s)", measure(sqlite, {"initial_delay": 0.05, "backoff": 1.5,
                                                                "max_delay": SQLITE_MAX_POLL_SECONDS},
                                                      args.jobs, args.pause))
        default = SqliteHuey("bench2", filename=str(Path(tmp) / "queue2.db"), results=False)
        report("SqliteHuey (Huey defaults)", measure(default, {}, min(args.jobs, 10), 3.0))
    try:
        redis = RedisHuey("bench", url=args.redis, results=False)
        redis.storage.conn.ping()
    except Exception as error:  # noqa: BLE001
        print(f"RedisHuey: skipped ({error.__class__.__name__})")
        return
    redis.storage.flush_all()
    report("RedisHuey (BRPOP)", measure(redis, {}, args.jobs, args.pause))
    redis.storage.flush_all()


if __name__ == "__main__":
    main()
