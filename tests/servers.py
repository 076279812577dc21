"""Real server processes for the gunicorn tests: gunicorn plus the face workers (`flask --app app queue worker`)
on a queue file of the test's own, both logging to files that a failing test prints (tests/conftest.py's
report hook shows ``server_logs()`` of any fixture value that has it)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebAndWorkers:
    """gunicorn (``deploy/gunicorn.conf.py``) and a queue worker process, as `make run` starts them."""

    def __init__(self, env: dict, log_dir: Path, *, queue_workers: int = 2) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        # Not tests of admission or budgets: a loaded 2-core CI machine decides in 5-25 s rather than 1-2 s, and
        # must neither refuse applicants as "busy" nor time their decisions out.
        self.env = dict(os.environ, BASE_URL=self.base, SUISHEN_QUEUE_URL=f"sqlite:///{log_dir / 'queue.db'}",
                        SUISHEN_QUEUE_WORKERS=str(queue_workers), SUISHEN_PROOFING_MAX_WAIT="600",
                        SUISHEN_PROOFING_DECISION_BUDGET="300",
                        # Push off unless a test sets keys: never the developer's instance/vapid.env.
                        **{"SUISHEN_VAPID_PUBLIC_KEY": "", "SUISHEN_VAPID_PRIVATE_KEY": "", **env})
        self.queue_workers = queue_workers
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def _log(self, name: str):
        return open(self.log_dir / f"{name}.log", "ab")

    def start(self) -> None:
        with self._log("gunicorn") as log:
            self.web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind",
                 f"127.0.0.1:{self.port}", "--access-logfile", "/dev/null", "wsgi:app"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        with self._log("worker") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "queue", "worker", "-w", str(self.queue_workers)],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        logs = self.server_logs()
        self.stop()
        raise RuntimeError("gunicorn did not start:\n" + logs)

    def stop(self) -> None:
        for proc in (self.web, self.worker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.web, self.worker):
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.web = self.worker = None

    def server_logs(self, tail: int = 6000) -> str:
        parts = []
        for name in ("gunicorn", "worker"):
            path = self.log_dir / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            parts.append(f"--- {name} ({path}) ---\n{text[-tail:]}")
        return "\n".join(parts)


def decision(browser: requests.Session, base: str, answer: requests.Response, timeout: float = 120.0) -> dict:
    """The decision of a frames answer: itself when 200, else what its status URL says once decided."""
    body = answer.json()
    deadline = time.monotonic() + timeout
    while body.get("status") != "decided":
        assert answer.status_code in (200, 202), (answer.status_code, body)
        if time.monotonic() > deadline:
            raise AssertionError(f"no decision within {timeout} s: {body}")
        time.sleep(0.2)
        body = browser.get(base + body["status_url"], headers={"Accept": "application/json"}, timeout=30).json()
    return body
