"""`make run`: gunicorn and the face workers (the Huey consumer) on one machine, started and stopped together.

    python scripts/serve.py --bind 127.0.0.1:8000 [--workers N]

Ctrl-C (or SIGTERM) stops both; if either exits on its own the other is stopped too and the exit code passed on,
so a supervisor (systemd, a container runtime) sees one service. No server is started that this does not own:
the queue is SUISHEN_QUEUE_URL (empty = instance/queue.db, no Redis needed).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=os.environ.get("GUNICORN_BIND", "127.0.0.1:8000"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("SUISHEN_QUEUE_WORKERS", "0") or 0),
                        help="face-worker processes (0 = one per core)")
    args = parser.parse_args()
    python = sys.executable
    children = [
        subprocess.Popen([python, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", args.bind,
                          "wsgi:app"], cwd=ROOT),
        subprocess.Popen([python, "-m", "flask", "--app", "app", "queue", "worker",
                          "--workers", str(args.workers)], cwd=ROOT),
    ]
    stopping = False

    def stop(signum=None, _frame=None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if signum != signal.SIGINT else signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    if not stopping:  # one of them died: take the other down, report the failure
        code = next(child.returncode for child in children if child.poll() is not None) or 1
        print("scripts/serve.py: a process exited; stopping the other", file=sys.stderr)
        stop(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return code


if __name__ == "__main__":
    sys.exit(main())
