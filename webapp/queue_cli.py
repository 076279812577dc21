"""`flask --app app queue …`: run the face workers, and watch the queue (Huey has no dashboard)."""
from __future__ import annotations

import json
import logging
import os

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from webapp import queue
from webapp.db import get_session
from webapp.proofing import engine as face_engine
from webapp.proofing import services, tasks  # noqa: F401 - registers the jobs on the queue
from webapp.proofing.models import DECIDING, QUEUED, Challenge
from webapp.proofing.rules import expected_wait

queue_cli = AppGroup("queue", help="The task queue of face decisions (Huey).")


@queue_cli.command("worker")
@click.option("--workers", "-w", type=int, default=0, show_default=True,
              help="Face-worker processes; 0 = SUISHEN_QUEUE_WORKERS (one per core by default).")
@click.option("--threads", is_flag=True, help="Threads instead of processes (tests; decisions share one core).")
@click.option("--nice", type=int, default=10, show_default=True,
              help="Lower the workers' CPU priority by this much: on a machine shared with gunicorn, gates and QR "
                   "refreshes get the CPU first and decisions take the rest (0 on dedicated face-worker hosts).")
def worker(workers: int, threads: bool, nice: int) -> None:
    """Run the queue's consumer: decide 实人核验 submissions and sweep stale ones, until Ctrl-C / SIGTERM."""
    app = current_app._get_current_object()
    if nice:
        os.nice(nice)
    workers = workers or app.config["SUISHEN_QUEUE_WORKERS"]
    if queue.is_immediate():
        raise click.UsageError("SUISHEN_QUEUE_URL=immediate:// runs jobs in the web process: no worker to run")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    engine = app.extensions.get("engine")

    @queue.huey.on_startup()
    def _fresh_connections() -> None:
        # Each forked worker opens its own database connections (a pool shared across fork breaks both).
        if engine is not None:
            engine.dispose(close=False)

    # Load face_recognition and its models once, before the workers fork: they share the pages copy-on-write,
    # no applicant's decision pays the 1-2 s of loading, and a broken model install fails here, at start.
    click.echo(f"face engine warmed up in {face_engine.warm_up():.2f} s of CPU")

    storage = type(queue.huey.storage).__name__
    options = {"workers": workers, "worker_type": "thread" if threads else "process", "periodic": True,
               "check_worker_health": True}
    if storage == "SqliteStorage":
        options.update(initial_delay=0.05, max_delay=queue.SQLITE_MAX_POLL_SECONDS, backoff=1.5)
    click.echo(f"queue worker: {workers} {options['worker_type']} worker(s) on {storage} (pid {os.getpid()})")
    queue.huey.create_consumer(**options).run()


@queue_cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (for monitoring).")
def status(as_json: bool) -> None:
    """Print the queue: waiting jobs, 实人核验 queued / deciding, average decision time, expected wait."""
    config = current_app.config
    session = get_session()
    counts = dict(session.execute(select(Challenge.status, func.count()).where(
        Challenge.status.in_((QUEUED, DECIDING))).group_by(Challenge.status)).all())
    seconds = queue.decision_seconds(config["SUISHEN_PROOFING_DECISION_SECONDS"])
    facts = {
        "storage": type(queue.huey.storage).__name__,
        "jobs_waiting": queue.pending(),
        "queued": counts.get(QUEUED, 0),
        "deciding": counts.get(DECIDING, 0),
        "decision_seconds_avg": round(seconds, 3),
        "workers": config["SUISHEN_QUEUE_WORKERS"],
        "expected_wait_seconds": round(expected_wait(services.queue_length(session), seconds,
                                                     config["SUISHEN_QUEUE_WORKERS"]), 1),
        "max_wait_seconds": config["SUISHEN_PROOFING_MAX_WAIT"],
    }
    if as_json:
        click.echo(json.dumps(facts))
        return
    click.echo(f"队列存储 {facts['storage']}：待执行任务 {facts['jobs_waiting']}")
    click.echo(f"实人核验：排队中 {facts['queued']}，正在核验 {facts['deciding']}")
    click.echo(f"平均每次核验 {facts['decision_seconds_avg']} 秒，核验进程 {facts['workers']} 个")
    click.echo(f"新提交预计等待 {facts['expected_wait_seconds']} 秒（超过 {facts['max_wait_seconds']} 秒即拒绝新核验）")


@queue_cli.command("sweep")
def sweep() -> None:
    """Fail stale queued/deciding submissions now (the worker does it every minute)."""
    click.echo(f"已结束 {tasks.sweep_now()} 个超时的核验。")
