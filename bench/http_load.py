"""HTTP figures on the real server: verification throughput and latency, QR refresh, page weight.

Starts gunicorn with the production settings (deploy/gunicorn.conf.py, SUISHEN_ENV=production, PostgreSQL,
Redis rate-limit storage) on loopback, seeds one citizen, one travel certificate and one API key, then:
1. saturating load with wrk (Debian) on POST /api/v1/verify (valid tokens, API key) and on GET /healthz
   (the bare endpoint: same app, same middleware, the ordinary session's SELECT 1 -- pool checkout with
   pre-ping, BEGIN, SELECT 1, ROLLBACK) in the same run -> req/s, ratio, and the CPU time per request of the
   server's workers, PostgreSQL and Redis (from /proc, which says where the time goes: wrk, PostgreSQL and Redis
   share the cores with gunicorn here, so a saturated run is bounded by the sum);
2. a fixed rate (default 200 req/s, open loop, Python) on both -> p50/p99 latency;
3. the same for GET /travel-id/<id>/token (what the QR page polls every 60 s);
4. page weight of the QR page and the apply page: bytes transferred on first load and on a repeat load
   with the service worker, measured in headless Chromium.
Figures only (no assertions). Appends to bench/RESULTS.md with the machine's description.

Usage: .venv/bin/python bench/http_load.py [--rate 200] [--seconds 10] [--rounds 5] [--no-record]
The API and QR rate limits are raised for the run (SUISHEN_API_RATE_LIMIT, SUISHEN_QR_RATE_LIMIT) so the limiter's cost is measured, not its
refusals.

Fairness: every endpoint gets the same warm-up, the same wrk settings and the same server in one run; verify uses
a token issued just before each phase and the same body in both phases, and an answer counts as an error unless
it says ``"valid": true`` (a stale token would still be a 200). The saturated runs alternate bare / verify / QR in
``--rounds`` rounds, so a burst of other work on the machine hits all three alike; the table gives medians and the
ratio is the median of the per-round ratios (with its range). The load averages before and after are recorded,
because the load generator, PostgreSQL and Redis share the machine's cores with the server.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from webapp import migrate, signing  # noqa: E402
from webapp.db import make_engine, make_session_factory  # noqa: E402
from webapp.signing import keys as signing_keys  # noqa: E402
from webapp.signing.keys import KeyRing  # noqa: E402

PG_ADMIN = os.environ.get("SUISHEN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.platform()}, Python {platform.python_version()}"


# QR tokens are signed (webapp/signing) with a key of the bench's own, in a folder named in the environment, so the
# servers it starts (and proofing_load.py's) sign and check with the same key.
SIGNING_KEYS = Path(tempfile.mkdtemp(prefix="suishen-bench-keys-"))
signing_keys.init_keys(SIGNING_KEYS, datetime(2000, 1, 1, tzinfo=timezone.utc))
os.environ["SUISHEN_SIGNING_KEYS"] = str(SIGNING_KEYS)


def travel_token(url: str, cert_public_id: str, base_url: str) -> str:
    """The certificate's signed QR token now, as the servers make it."""
    from webapp.travel_id.models import TravelCertificate

    factory = make_session_factory(make_engine(url))
    with factory() as session:
        cert = session.query(TravelCertificate).filter_by(public_id=cert_public_id).one()
        return signing.token_for(KeyRing(SIGNING_KEYS), cert, datetime.now(timezone.utc), base_url=base_url)


def seed(url: str, base_url: str) -> dict:
    from tests import factories
    from webapp.officer import services as officer_services
    from webapp.travel_id import services as travel

    factory = make_session_factory(make_engine(url))
    now = datetime.now(timezone.utc)
    with factory() as session:
        factories.bind(session)
        citizen = factories.CitizenFactory()
        cert = travel.issue(session, citizen=citizen, lat=23.13, lon=113.26, city="广州", now=now, user_id=None,
                            challenge_public_id=None)
        _key, raw = officer_services.create_api_key(session, name="bench gate", scope="verify", now=now)
        session.commit()
        return {"cert": cert.public_id, "key": raw}


def grant_cookie(cert_public_id: str, *, app=None, cookie: str | None = None) -> str:
    """A signed session cookie that says this browser passed 实人核验 for the certificate just now (what a pass
    writes): a new session signed with the bench's SECRET, or ``cookie``, a session of ``app``'s, with the grant."""
    from webapp import create_app
    from webapp.travel_id.views import GRANTS

    app = app or create_app({"SUISHEN_ENV": "testing", "SECRET_KEY": SECRET, "DATABASE_URL": "sqlite://"})
    serializer = app.session_interface.get_signing_serializer(app)
    data = serializer.loads(cookie) if cookie else {}
    data[GRANTS] = {cert_public_id: datetime.now(timezone.utc).isoformat()}
    return serializer.dumps(data)


def gunicorn_settings(env: dict) -> str:
    """Worker count and class as deploy/gunicorn.conf.py computes them for this environment."""
    import runpy
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    threads = conf.get("threads", 1)
    return f"{conf['workers']} {conf['worker_class']} workers" + (f" x {threads} threads" if threads > 1 else "")


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


CPU_GROUPS = ("gunicorn", "postgres", "redis")


def cpu_seconds(server_pid: int | None) -> dict[str, float]:
    """CPU time (user + system) so far of the server's process tree, every PostgreSQL and every Redis process."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(CPU_GROUPS, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        if server_pid is not None and server_pid in (int(entry.name), int(fields[1])):
            totals["gunicorn"] += used
        elif name.startswith("postgres"):
            totals["postgres"] += used
        elif name.startswith("redis"):
            totals["redis"] += used
    return totals


def wrk(url: str, *, seconds: int, lua: Path | None, server_pid: int | None = None) -> dict:
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    if lua:
        cmd += ["-s", str(lua)]
    before = cpu_seconds(server_pid)
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    after = cpu_seconds(server_pid)
    rps = next(float(l.split(":")[1]) for l in out.splitlines() if l.startswith("Requests/sec"))
    requests_done = int(next(l for l in out.splitlines() if "requests in" in l).split()[0])
    non2xx = next((int(l.split(":")[1]) for l in out.splitlines() if "Non-2xx" in l), 0)
    cpu_us = {k: (after[k] - before[k]) / max(1, requests_done) * 1e6 for k in CPU_GROUPS}
    return {"rps": rps, "non2xx": non2xx, "cpu_us": cpu_us}


def fixed_rate(host: str, port: int, method: str, path: str, body: bytes | None, headers: dict, *,
               rate: int, seconds: int, ok_body=lambda data: True) -> dict:
    """Open-loop load: requests are due at fixed instants; latency counts from the due instant.

    A response is an error unless it is a 200 whose body passes ``ok_body``.
    """
    total = rate * seconds
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    workers = 16
    per_worker = [list(range(i, total, workers)) for i in range(workers)]

    def run(slots: list[int]) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection(host, port, timeout=10)
        for n in slots:
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                ok = resp.status == 200 and ok_body(data)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                ok = False
            took = time.perf_counter() - due
            with lock:
                latencies.append(took)
                errors += 0 if ok else 1
        conn.close()

    threads = [threading.Thread(target=run, args=(s,)) for s in per_worker]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "errors": errors, "n": len(latencies)}


def page_weight(base: str, cert: str, cookie: str) -> dict:
    from playwright.sync_api import sync_playwright

    results = {}
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        for name, path in [("qr_page", f"/travel-id/{cert}"), ("apply_page", "/travel-id/")]:
            context = browser.new_context(base_url=base, viewport={"width": 360, "height": 740})
            context.add_cookies([{"name": "session", "value": cookie, "url": base}])
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
            got = {"bytes": 0}
            cdp.on("Network.loadingFinished", lambda e: got.__setitem__("bytes", got["bytes"] + e["encodedDataLength"]))
            page.goto(path, wait_until="load")
            page.wait_for_timeout(1500)  # the QR page fetches its first token after load
            if not page.url.endswith(path):
                raise RuntimeError(f"{path} went to {page.url}")
            first = got["bytes"]
            page.evaluate("navigator.serviceWorker.ready")
            got["bytes"] = 0
            page.goto(path, wait_until="load")
            page.wait_for_timeout(1500)
            results[name] = {"first_kb": first / 1024, "repeat_kb": got["bytes"] / 1024}
            context.close()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5, help="alternating saturated runs of --seconds/2 each")
    parser.add_argument("--no-record", action="store_true", help="print the figures, do not append to RESULTS.md")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    name = f"suishen_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = None
    try:
        migrate.upgrade(url)
        data = seed(url, base)
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET, SUISHEN_ENV="production", BASE_URL=base,
                   RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379", SUISHEN_API_RATE_LIMIT="1000000 per minute", SUISHEN_QR_RATE_LIMIT="1000000 per minute")
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind",
                                 f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "wsgi:app"], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {data['key']}"}

        def verify_body() -> bytes:
            """A token of the current window as a phone camera reads it (the URL); one body for both phases."""
            token = travel_token(url, data["cert"], base)
            return json.dumps({"qr": f"{base}/v/{token}", "context": "entry"}).encode()

        def verify_lua(body: bytes) -> Path:
            lua = Path(tempfile.mkstemp(suffix=".lua")[1])
            lua.write_text('wrk.method = "POST"\nwrk.body = ' + json.dumps(body.decode()) + "\n"
                           'wrk.headers["Content-Type"] = "application/json"\n'
                           f'wrk.headers["Authorization"] = "Bearer {data["key"]}"\n')
            return lua

        def says_valid(raw: bytes) -> bool:
            return json.loads(raw).get("valid") is True

        def check_verify(body: bytes) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/v1/verify", body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            conn.close()
            if resp.status != 200 or not says_valid(raw):
                raise RuntimeError(f"verify did not answer valid: {resp.status} {raw[:200]!r}")

        cookie = grant_cookie(data["cert"])
        cookie_lua = Path(tempfile.mkstemp(suffix=".lua")[1])
        cookie_lua.write_text(f'wrk.headers["Cookie"] = "session={cookie}"\n')
        qr_path = f"/travel-id/{data['cert']}/token"
        load_before = load_average()

        # The same short warm-up for every endpoint, so none pays for a worker's first requests.
        warm = max(2, args.seconds // 5)
        wrk(f"{base}/healthz", seconds=warm, lua=None)
        wrk(f"{base}/api/v1/verify", seconds=warm, lua=verify_lua(verify_body()))
        wrk(f"{base}{qr_path}", seconds=warm, lua=cookie_lua)

        runs: dict[str, list[dict]] = {"bare": [], "verify": [], "qr": []}
        run_seconds = max(2, args.seconds // 2)
        for _ in range(args.rounds):
            runs["bare"].append(wrk(f"{base}/healthz", seconds=run_seconds, lua=None, server_pid=proc.pid))
            body = verify_body()
            check_verify(body)
            runs["verify"].append(wrk(f"{base}/api/v1/verify", seconds=run_seconds, lua=verify_lua(body),
                                      server_pid=proc.pid))
            check_verify(body)  # still valid at the end: every answer in between was a real check
            runs["qr"].append(wrk(f"{base}{qr_path}", seconds=run_seconds, lua=cookie_lua, server_pid=proc.pid))
        bare, verify, qr = ({"rps": statistics.median(r["rps"] for r in runs[k]),
                             "non2xx": sum(r["non2xx"] for r in runs[k]),
                             "cpu_us": {g: statistics.median(r["cpu_us"][g] for r in runs[k]) for g in CPU_GROUPS}}
                            for k in ("bare", "verify", "qr"))
        ratios = {k: sorted(v["rps"] / b["rps"] for v, b in zip(runs[k], runs["bare"])) for k in ("verify", "qr")}
        lat_bare = fixed_rate("127.0.0.1", port, "GET", "/healthz", None, {}, rate=args.rate, seconds=args.seconds)
        body = verify_body()
        check_verify(body)
        lat_verify = fixed_rate("127.0.0.1", port, "POST", "/api/v1/verify", body, headers, rate=args.rate,
                                seconds=args.seconds, ok_body=says_valid)
        lat_qr = fixed_rate("127.0.0.1", port, "GET", qr_path, None,
                            {"Cookie": f"session={cookie}"}, rate=args.rate, seconds=args.seconds,
                            ok_body=lambda raw: json.loads(raw).get("state") == "valid")
        load_after = load_average()
        weight = page_weight(base, data["cert"], cookie)
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    workers = gunicorn_settings(env)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## HTTP ({stamp})",
        f"Machine: {machine()}. gunicorn {workers}, PostgreSQL, Redis limiter storage; "
        f"load generator on the same machine (loopback). Load average (1/5/15 min) before: {load_before}, "
        f"after: {load_after}.",
        "",
        f"| endpoint | saturated req/s (wrk -t2 -c16, median of {args.rounds}) | non-2xx "
        f"| p50 @ {args.rate} req/s | p99 @ {args.rate} req/s | errors |",
        "|---|---|---|---|---|---|",
        f"| GET /healthz (bare) | {bare['rps']:.0f} | {bare['non2xx']} | {lat_bare['p50_ms']:.1f} ms | {lat_bare['p99_ms']:.1f} ms | {lat_bare['errors']} |",
        f"| POST /api/v1/verify | {verify['rps']:.0f} | {verify['non2xx']} | {lat_verify['p50_ms']:.1f} ms | {lat_verify['p99_ms']:.1f} ms | {lat_verify['errors']} |",
        f"| GET /travel-id/<id>/token (QR refresh) | {qr['rps']:.0f} | {qr['non2xx']} | {lat_qr['p50_ms']:.1f} ms | {lat_qr['p99_ms']:.1f} ms | {lat_qr['errors']} |",
        "",
        f"verify / bare throughput: **{statistics.median(ratios['verify']):.0%}** (goal ≥ 60 %; rounds "
        f"{ratios['verify'][0]:.0%}–{ratios['verify'][-1]:.0%}); QR refresh / bare: "
        f"**{statistics.median(ratios['qr']):.0%}** ({ratios['qr'][0]:.0%}–{ratios['qr'][-1]:.0%}). "
        "p99 goal ≤ 25 ms.",
        "",
        "CPU time per request in the saturated runs (median of the rounds; from /proc):",
        "",
        "| endpoint | gunicorn workers | PostgreSQL | Redis | sum |",
        "|---|---|---|---|---|",
        *(f"| {label} | " + " | ".join(f"{row['cpu_us'][g]:.0f} µs" for g in CPU_GROUPS)
          + f" | {sum(row['cpu_us'].values()):.0f} µs |"
          for label, row in (("GET /healthz (bare)", bare), ("POST /api/v1/verify", verify),
                             ("QR refresh", qr))),
        "",
        "| page | first load | repeat load (service worker) |",
        "|---|---|---|",
    ]
    for page_name, w in weight.items():
        lines.append(f"| {page_name} | {w['first_kb']:.1f} KB | {w['repeat_kb']:.1f} KB |")
    report = "\n".join(lines) + "\n"
    print(report)
    if not args.no_record:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n" + report)


if __name__ == "__main__":
    main()
