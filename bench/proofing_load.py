"""实人核验 on the task queue under load: do applicants slow the gates down, and how many decisions per second?

Starts gunicorn (deploy/gunicorn.conf.py) and the face workers (`flask queue worker`) on PostgreSQL, with the
queue and the rate-limit counters on Redis (the multi-host set-up on one machine), seeds one travel certificate,
an API key and applicants whose registry portrait is MEDS S001, then in one run:

1. baseline: POST /api/v1/verify and GET /travel-id/<id>/token at fixed rates (open loop) -> p50/p99;
2. the same while ``--clients`` (default 6) applicants loop through the travel-ID application's 实人核验 with
   real camera frames (genuine S001 blink sequence): apply -> camera page -> frames (202) -> poll the status
   until decided -> again. Gives the p99 ratio (goal <= 3x), 5xx and dropped connections, decisions per second
   and per face-worker process, and the wait each applicant saw (frames posted -> decision read);
3. 2x overload: submissions arrive open-loop at twice the measured decision rate for ``--seconds``: the wait
   they see and how many new challenges were refused up front (503 + Retry-After, SUISHEN_PROOFING_MAX_WAIT).

Figures only (no assertions). ``--record`` appends them to bench/RESULTS.md.
Usage: .venv/bin/python bench/proofing_load.py [--clients 6] [--seconds 20] [--workers N] [--record]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, text  # noqa: E402

import http_load  # noqa: E402
from http_load import SECRET, fixed_rate, free_port, grant_cookie, load_average, machine  # noqa: E402
from webapp import migrate  # noqa: E402
from webapp.db import make_engine, make_session_factory  # noqa: E402

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
FRAMES = ROOT.parent / "shared" / "testdata" / "sequences" / "frames_genuine_blink_meds_s001"
PORTRAIT = ROOT.parent / "shared" / "testdata" / "faces" / "meds-aa-S001-02.jpg"


def seed_applicants(url: str, n: int) -> list[tuple[str, str]]:
    from tests import factories
    from webapp.proofing.services import prepare_portrait

    jpeg, encoding = prepare_portrait(PORTRAIT.read_bytes())
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        factories.bind(session)
        people = [factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding) for _ in range(n)]
        session.commit()
        return [(c.name, c.id_number) for c in people]


class Applicant:
    """One browser applying for a travel ID: 实人核验 again and again (never issuing, so no quota is used)."""

    def __init__(self, base: str, person: tuple[str, str], frames: list[bytes], address: str) -> None:
        self.base, self.person, self.frames = base, person, frames
        self.address = address  # X-Forwarded-For: each applicant is a phone of its own, not one IP
        self.waits: list[float] = []
        self.decided = 0
        self.refused = 0
        self.errors: list[str] = []

    def once(self) -> None:
        s = requests.Session()
        s.headers["X-Forwarded-For"] = self.address
        page = s.get(f"{self.base}/travel-id/", timeout=30)
        m = CSRF.search(page.text)
        r = s.post(f"{self.base}/travel-id/apply", allow_redirects=False, timeout=30, data={
            "csrf_token": m.group(1) or m.group(2), "name": self.person[0], "id_number": self.person[1],
            "latitude": "23.13", "longitude": "113.26"})
        if r.status_code == 503:
            self.refused += 1
            time.sleep(float(r.headers.get("Retry-After", "1")))
            return
        if r.status_code != 302:
            self.errors.append(f"apply {r.status_code}")
            return
        location = r.headers["Location"]
        public_id = location.rstrip("/").rsplit("/", 1)[-1]
        csrf = re.search(r'data-csrf="([^"]+)"', s.get(self.base + location, timeout=30).text).group(1)
        sent = time.perf_counter()
        answer = s.post(f"{self.base}/proofing/{public_id}/frames", timeout=60,
                        files=[("blink", (f"{i}.jpg", d, "image/jpeg")) for i, d in enumerate(self.frames)],
                        headers={"X-CSRFToken": csrf, "Accept": "application/json"})
        if answer.status_code not in (200, 202):
            self.errors.append(f"frames {answer.status_code}")
            return
        body = answer.json()
        while body.get("status") != "decided":
            time.sleep(body.get("poll_ms", 1000) / 1000)  # as the camera page polls
            body = s.get(self.base + body["status_url"], headers={"Accept": "application/json"}, timeout=30).json()
        self.waits.append(time.perf_counter() - sent)
        self.decided += 1
        if not body.get("passed"):
            self.errors.append(f"not passed: {body.get('reason')}")

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.once()
            except (requests.RequestException, AttributeError, KeyError, ValueError) as error:
                self.errors.append(error.__class__.__name__)


def run_applicants(base, people, frames, stop, results) -> None:
    applicants = [Applicant(base, person, frames, f"10.0.0.{i + 1}") for i, person in enumerate(people)]
    threads = [threading.Thread(target=a.loop, args=(stop,)) for a in applicants]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    results.put((sum(a.decided for a in applicants), [w for a in applicants for w in a.waits],
                 [e for a in applicants for e in a.errors]))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--verify-rate", type=int, default=50)
    parser.add_argument("--qr-rate", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="face-worker processes")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()

    pg_admin = http_load.PG_ADMIN
    name = f"suishen_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_admin.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = Path(f"/tmp/suishen-proofing-bench-{port}")
    logs.mkdir(exist_ok=True)
    procs: list[subprocess.Popen] = []
    frames = [p.read_bytes() for p in sorted(FRAMES.glob("*.jpg"))][:24]
    try:
        migrate.upgrade(url)
        data = http_load.seed(url, base)
        people = seed_applicants(url, args.clients * 4)
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET, SUISHEN_ENV="production", BASE_URL=base,
                   RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0", SUISHEN_QUEUE_URL="redis://127.0.0.1:6379/12",
                   SUISHEN_QUEUE_WORKERS=str(args.workers), SUISHEN_LIVENESS_CHECKS="blink,match",
                   SUISHEN_API_RATE_LIMIT="1000000 per minute", SUISHEN_QR_RATE_LIMIT="1000000 per minute",
                   SUISHEN_PROOFING_START_LIMIT_IP="1000000 per minute",
                   SUISHEN_PROOFING_START_LIMIT_SESSION="1000000 per minute",
                   SUISHEN_PROOFING_START_LIMIT_CITIZEN="1000000 per minute",
                   SUISHEN_PROOFING_SUBMIT_LIMIT="1000000 per minute", SUISHEN_PROOFING_MAX_FAILURES="0",
                   SUISHEN_PROXY_COUNT="1")
        import redis
        redis.Redis.from_url(env["SUISHEN_QUEUE_URL"]).flushdb()
        with open(logs / "gunicorn.log", "wb") as out:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                 "--access-logfile", str(logs / "access.log"), "--access-logformat", "%(r)s %(s)s %(L)s",
                 "wsgi:app"], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT))
        with open(logs / "worker.log", "wb") as out:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "queue", "worker", "-w", str(args.workers)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        for _ in range(200):
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        time.sleep(2)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {data['key']}"}
        token = http_load.travel_token(url, data["cert"], base)
        verify_body = json.dumps({"qr": f"{base}/v/{token}", "context": "entry"}).encode()
        cookie = grant_cookie(data["cert"])
        qr_headers = {"Cookie": f"session={cookie}", "Accept": "application/json"}
        says_valid = lambda raw: json.loads(raw).get("valid") is True  # noqa: E731

        def gates() -> dict:
            found: dict = {}

            def verify():
                found["verify"] = fixed_rate("127.0.0.1", port, "POST", "/api/v1/verify", verify_body, headers,
                                             rate=args.verify_rate, seconds=args.seconds, ok_body=says_valid)

            def qr():
                found["qr"] = fixed_rate("127.0.0.1", port, "GET", f"/travel-id/{data['cert']}/token", None,
                                         qr_headers, rate=args.qr_rate, seconds=args.seconds)
            threads = [threading.Thread(target=verify), threading.Thread(target=qr)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return found

        # Warm-up: applications in parallel, so every gunicorn worker has loaded what an application needs (the
        # reverse geocoder's data: 4-14 s on the first application per worker, measured in the access log) and
        # every face worker its models; then a few seconds of gate traffic.
        warm = [threading.Thread(target=Applicant(base, people[-1 - i], frames, f"10.9.9.{i}").once)
                for i in range(6)]
        for t in warm:
            t.start()
        for t in warm:
            t.join(300)
        fixed_rate("127.0.0.1", port, "POST", "/api/v1/verify", verify_body, headers, rate=50, seconds=2)
        load_before = load_average()
        alone = gates()

        # The applicants run in a process of their own: in this one their request building would hold the GIL
        # and delay the gate load generator's own clock, which would count as the server's latency.
        ctx = multiprocessing.get_context("fork")
        stop = ctx.Event()
        results = ctx.Queue()
        child = ctx.Process(target=run_applicants, args=(base, people[:args.clients], frames, stop, results))
        started = time.perf_counter()
        child.start()
        time.sleep(3)  # the queue fills
        busy = gates()
        stop.set()
        decided, waits, applicant_errors = results.get(timeout=300)
        child.join(60)
        elapsed = time.perf_counter() - started
        per_second = decided / elapsed

        # 2x overload: open-loop arrivals at twice the measured decision rate.
        rate = 2 * per_second
        over = [Applicant(base, people[args.clients + (i % (args.clients * 3))], frames,
                          f"10.1.{i // 250}.{i % 250}") for i in range(max(1, int(rate * args.seconds)))]
        over_threads = []
        t0 = time.perf_counter()
        for i, a in enumerate(over):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t = threading.Thread(target=a.once)
            t.start()
            over_threads.append(t)
        for t in over_threads:
            t.join(300)
        over_waits = [w for a in over for w in a.waits]
        over_refused = sum(a.refused for a in over)
        load_after = load_average()

        def row(label, fig):
            return f"| {label} | {fig['p50_ms']:.1f} | {fig['p99_ms']:.1f} | {fig['errors']} / {fig['n']} |"

        errors = applicant_errors + [e for a in over for e in a.errors]
        lines = [
            f"\n## 实人核验 on the task queue under gate load ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
            "bench/proofing_load.py)",
            f"Machine: {machine()}; load average before {load_before}, after {load_after}. gunicorn "
            f"{http_load.gunicorn_settings(env)}, {args.workers} face-worker processes (Huey on Redis), "
            f"PostgreSQL; verify at {args.verify_rate}/s and QR refresh at {args.qr_rate}/s for {args.seconds} s "
            "each phase, open loop.",
            "",
            "| phase | p50 ms | p99 ms | errors / requests |",
            "|---|---|---|---|",
            row("verify alone", alone["verify"]),
            row(f"verify + {args.clients} 实人核验 clients", busy["verify"]),
            row("QR refresh alone", alone["qr"]),
            row(f"QR refresh + {args.clients} 实人核验 clients", busy["qr"]),
            "",
            f"- p99 ratio with/without: verify {busy['verify']['p99_ms'] / alone['verify']['p99_ms']:.2f}x, "
            f"QR refresh {busy['qr']['p99_ms'] / alone['qr']['p99_ms']:.2f}x (goal <= 3x).",
            f"- Decisions: {decided} in {elapsed:.1f} s = {per_second:.2f}/s, "
            f"{per_second / args.workers:.2f}/s per face-worker process; applicant wait (frames posted -> "
            f"decision read) median {statistics.median(waits) if waits else float('nan'):.1f} s, "
            f"p90 {percentile(waits, 0.9):.1f} s.",
            f"- At 2x that load ({rate:.2f} submissions/s for {args.seconds} s, {len(over)} applicants): "
            f"{len(over_waits)} decided, wait median "
            f"{statistics.median(over_waits) if over_waits else float('nan'):.1f} s, p90 "
            f"{percentile(over_waits, 0.9):.1f} s, max {max(over_waits) if over_waits else float('nan'):.1f} s; "
            f"{over_refused} refused up front (503 当前核验人数较多).",
            f"- Applicant errors: {len(errors)} {sorted(set(errors))[:5]}",
        ]
        text_out = "\n".join(lines)
        print(text_out)
        if args.record:
            with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as out:
                out.write(text_out + "\n")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        print(f"server logs: {logs}")


if __name__ == "__main__":
    main()
