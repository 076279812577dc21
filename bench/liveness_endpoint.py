"""CPU cost of one 实人核验 decision through the real endpoint (gunicorn, SQLite), per worker and per request.

Run from the repository root:
    .venv/bin/python bench/liveness_endpoint.py [decisions] [--workers N] [--preload-engine] [--env K=V ...]

Starts gunicorn from this checkout (deploy/gunicorn.conf.py, a fresh SQLite database in a temporary folder) on a
free port, posts real genuine frames (tests' shared test data) to ``POST /proofing/<id>/frames`` one after the
other, and reads each worker's CPU (utime + stime from /proc) before and after every decision, so the first
decision of a fresh worker and the later ones are told apart. The engine's own ``scores["cpu_ms"]`` is shown
next to it, and one plain ``face_recognition.face_encodings`` call measured in this process in the same run is
the yardstick of the ratio (goal: a decision <= 2x). ``--preload-engine`` runs gunicorn with a config that
executes deploy/gunicorn.conf.py and then imports the engine and calls ``engine.warm_up()`` in the master, before
the workers fork (what a deciding process must do at start). It prints; it never asserts. The server is stopped
at the end, whatever happens.

Since decisions run on the task queue, the web worker no longer decides: ``--env SUISHEN_QUEUE_URL=immediate://``
makes gunicorn's worker run the queue job in-process (the same ``proofing.decide`` job a face worker runs, plus the
frames request), so its CPU is one whole decision through the real endpoint; ``make bench`` runs it that way.
``--queue URL`` (e.g. ``redis://127.0.0.1:6379/13``) runs it as production does instead: gunicorn answers the
frames request (202 queued) and one face worker (`flask --app app queue worker -w 1`, which warms the engine before
it forks) decides; the bench polls the status URL as the page does, and the cost of a decision is the CPU of the
web worker (frames request and polls) plus the face-worker process's.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.testdata import FACES, HAVE_TESTDATA, TESTDATA, load_sequence  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu(pid: int) -> float:
    """utime + stime of one process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _seed(url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from tests import factories
    from webapp import migrate
    from webapp.proofing.services import prepare_portrait

    migrate.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as db:
        factories.bind(db)
        portrait, encoding = prepare_portrait((FACES / "meds-aa-S001-02.jpg").read_bytes())
        citizen = factories.CitizenFactory(portrait=portrait, portrait_encoding=encoding)
        db.commit()
        who = (citizen.name, citizen.id_number)
    engine.dispose()
    return who


def _challenge(base: str, citizen: tuple[str, str]) -> tuple[requests.Session, str, str]:
    s = requests.Session()
    page = s.get(f"{base}/travel-id/")
    match = CSRF.search(page.text)
    token = match.group(1) or match.group(2)
    r = s.post(f"{base}/travel-id/apply", data={"csrf_token": token, "name": citizen[0],
                                                 "id_number": citizen[1], "latitude": "23.13",
                                                 "longitude": "113.26"}, allow_redirects=False)
    r.raise_for_status()
    page = s.get(base + r.headers["Location"])
    public_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    return s, public_id, csrf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("decisions", nargs="?", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--frames", type=int, default=24, help="genuine blink frames per decision")
    parser.add_argument("--preload-engine", action="store_true", help="import + warm the engine in the master")
    parser.add_argument("--env", action="append", default=[], help="extra K=V for the server's environment")
    parser.add_argument("--queue", metavar="URL", help="decide on a face worker of this queue (production's path)")
    args = parser.parse_args()
    if not HAVE_TESTDATA:
        print(f"test data not found at {TESTDATA}; set SUISHEN_TESTDATA")
        return
    frames = load_sequence("genuine_blink_meds_s001")[: args.frames]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/suishen.db"
        citizen = _seed(url)
        # A QR signing key of the bench's own: a fresh clone has no instance/signing_keys (make run makes it).
        from webapp.signing import keys as signing_keys

        signing_keys.init_keys(Path(tmp) / "signing_keys", datetime(2000, 1, 1, tzinfo=timezone.utc))
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        queue_env = {"SUISHEN_QUEUE_URL": args.queue, "SUISHEN_QUEUE_WORKERS": "1"} if args.queue else {}
        env = dict(os.environ, **queue_env, DATABASE_URL=url, SECRET_KEY="bench-secret", SUISHEN_ENV="production",
                   BASE_URL=base, SUISHEN_LIVENESS_CHECKS="blink,match",
                   SUISHEN_SIGNING_KEYS=str(Path(tmp) / "signing_keys"), RATELIMIT_ENABLED="0",
                   GUNICORN_WORKERS=str(args.workers), **dict(kv.split("=", 1) for kv in args.env))
        config = "deploy/gunicorn.conf.py"
        if args.preload_engine:
            config = str(Path(tmp) / "gunicorn_preload.conf.py")
            Path(config).write_text(
                f"exec(open({str(ROOT / 'deploy/gunicorn.conf.py')!r}).read())\n"
                "from webapp.proofing import engine as _engine\n"
                "_engine.warm_up()\n")
        log = open(Path(tmp) / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", config, "--bind",
                                 f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "--timeout", "120",
                                 "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        face = None
        if args.queue:
            if args.queue.startswith("redis://"):
                import redis

                redis.Redis.from_url(args.queue).flushdb()
            face = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "queue", "worker", "-w", "1",
                                     "--nice", "0"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    log_text = (Path(tmp) / "gunicorn.log").read_text()
                    raise SystemExit("gunicorn did not start:\n" + log_text[-3000:])
                time.sleep(0.2)
            workers = web = _children(proc.pid)
            if face is not None:  # the consumer forks its face worker (and a helper) after warming the engine
                seen, stable = [], 0
                while stable < 5:
                    if face.poll() is not None:
                        raise SystemExit("the queue worker stopped:\n" + (Path(tmp) / "gunicorn.log").read_text())
                    now = _children(face.pid)
                    stable = stable + 1 if now and now == seen else 0
                    seen = now
                    time.sleep(0.2)
                workers = web + seen
            import face_recognition
            import numpy as np
            from PIL import Image

            first = np.asarray(Image.open(io.BytesIO(frames[0])).convert("RGB"))
            yardstick = []
            for _ in range(5):
                started = time.process_time()
                face_recognition.face_encodings(first)
                yardstick.append(time.process_time() - started)
            one_encoding = statistics.median(yardstick)
            mode = "engine preloaded in the master" if args.preload_engine else "deploy/gunicorn.conf.py as is"
            if face is not None:
                mode += f"; decided by one face worker on {args.queue}"
            extra = ", " + " ".join(args.env) if args.env else ""
            print(f"gunicorn {args.workers} sync worker(s) ({mode}), SQLite{extra}; {len(frames)} genuine JPEG "
                  "frames 640x480 per decision; CPU from /proc (utime+stime)")
            print(f"yardstick, this process, same run: one face_encodings call {one_encoding * 1000:.0f} ms")
            print(f"master threads {_threads(proc.pid)}, worker threads {[_threads(w) for w in workers]}")
            print(f"{'#':>3}{'HTTP':>6}{'result':>8}{'worker':>8}{'worker CPU ms':>15}{'x encodings':>13}"
                  f"{'engine cpu_ms':>15}{'wall ms':>9}{'threads':>9}")
            by_worker: dict[int, list[float]] = {}
            from sqlalchemy import create_engine, text

            database = create_engine(url)  # each decision's scores, as the worker stored them
            for n in range(1, args.decisions + 1):
                session, public_id, csrf = _challenge(base, citizen)
                before = {w: _cpu(w) for w in workers}
                files = [("blink", (f"{i}.jpg", data, "image/jpeg")) for i, data in enumerate(frames)]
                start = time.perf_counter()
                answer = session.post(f"{base}/proofing/{public_id}/frames", files=files,
                                      headers={"X-CSRFToken": csrf, "Accept": "application/json"}, timeout=120)
                is_json = answer.headers.get("Content-Type", "").startswith("application/json")
                body = answer.json() if is_json else {}
                while body.get("status") in ("queued", "deciding"):  # the page polls like this
                    time.sleep(0.2)
                    body = session.get(base + body["status_url"], headers={"Accept": "application/json"}).json()
                wall = time.perf_counter() - start
                after = {w: _cpu(w) for w in workers}
                spent = {w: after[w] - before[w] for w in after}
                # One decision's cost: the face worker's and the web worker's CPU together (one process when the
                # job runs in the web worker); keyed by the process that spent most.
                worker = max(spent, key=spent.get)
                split = ""
                if face is not None:
                    split = "  web " + "+".join(f"{spent[w] * 1000:.0f}" for w in web)
                    spent[worker] = sum(spent.values())
                result = "pass" if body.get("passed") else body.get("reason", "?")
                with database.connect() as conn:
                    scores = conn.execute(text("SELECT scores FROM proofing_challenges WHERE public_id = :p"),
                                          {"p": public_id}).scalar()
                engine_cpu = (json.loads(scores) if isinstance(scores, str) else scores or {}).get("cpu_ms")
                engine_cpu = float("nan") if engine_cpu is None else engine_cpu
                by_worker.setdefault(worker, []).append(spent[worker])
                print(f"{n:>3}{answer.status_code:>6}{result:>8}{worker:>8}{spent[worker] * 1000:>15.0f}"
                      f"{spent[worker] / one_encoding:>13.1f}{engine_cpu:>15.0f}{wall * 1000:>9.0f}"
                      f"{_threads(worker):>9}{split}")
            database.dispose()
            firsts = [spent[0] for spent in by_worker.values()]
            later = [x for spent in by_worker.values() for x in spent[1:]]
            print("first decision of each worker: " + ", ".join(f"{x * 1000:.0f} ms" for x in firsts)
                  + f" (median {statistics.median(firsts) / one_encoding:.1f}x one face_encodings call)")
            if later:
                print(f"later decisions: median {statistics.median(later) * 1000:.0f} ms = "
                      f"{statistics.median(later) / one_encoding:.1f}x one face_encodings call")
        finally:
            for server in filter(None, (face, proc)):
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(20)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
            log.close()


if __name__ == "__main__":
    main()
