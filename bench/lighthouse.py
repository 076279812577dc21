"""Lighthouse on the pages issue 16's external audit named, at 360 x 780 (mobile), on a throw-away demo instance.

What it does, as `make run` would on a fresh machine but in a temporary folder (nothing of instance/ is touched):
1. migrates a SQLite database, makes a signing key and writes the demo data (`flask db upgrade`, `keys init`,
   `registry demo`, SUISHEN_DEMO=1), then gives the demo citizen 李明 a generated portrait, an active e-licence
   (system photo) and a travel certificate, in-process through the services;
2. serves it with gunicorn (deploy/gunicorn.conf.py, production settings, no face workers: no page here needs one);
3. signs in through the real forms (李明, demo-railway) and, for the QR page, adds this browser's 实人核验 grant to
   the signed session (the server's own secret; the page a pass leads to);
4. runs Lighthouse (performance, accessibility, best-practices, SEO; Lighthouse's default simulated mobile
   throttling, screen 360 x 780 at 2x) once per page in Debian's Chromium (`--headless=new --no-sandbox
   --disable-gpu`, CHROME_PATH, no browser download), passing the session as a Cookie header;
5. prints a table (four scores, CLS, and every audit under 1 with what it says) and, with --record, appends it to
   bench/RESULTS.md with the date, the machine and its load.

Lighthouse is not a project dependency: install it outside the repository and name it, e.g.
    npm install --prefix /tmp/lh lighthouse@12.8.2
    .venv/bin/python bench/lighthouse.py --lighthouse /tmp/lh/node_modules/.bin/lighthouse [--record]
Without --lighthouse it tries $LIGHTHOUSE, then `npx --no-install lighthouse`; when none is there (or node/chromium
is missing) it says so and exits 0 without measuring. Not part of `make test` (it measures, it asserts nothing);
`make bench` runs it last.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from http_load import free_port, grant_cookie, load_average, machine  # noqa: E402  (bench/ is on the path as the script's folder)

CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu"
DEMO_PHONE = "13800138001"
DEMO_OFFICER = "demo-railway"


def find_lighthouse(named: str | None) -> list[str] | None:
    """The command that runs Lighthouse, or None (with the reason printed)."""
    if named or os.environ.get("LIGHTHOUSE"):
        path = named or os.environ["LIGHTHOUSE"]
        if shutil.which(path) is None:
            print(f"bench/lighthouse.py: skipped: {path} is not an executable Lighthouse CLI")
            return None
        return [path]
    if shutil.which("npx") is None or shutil.which("node") is None:
        print("bench/lighthouse.py: skipped: node/npx not found; install Lighthouse outside the repository "
              "(npm install --prefix /tmp/lh lighthouse@12.8.2) and pass --lighthouse /tmp/lh/node_modules/.bin/lighthouse")
        return None
    probe = subprocess.run(["npx", "--no-install", "lighthouse", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("bench/lighthouse.py: skipped: `npx --no-install lighthouse` found no Lighthouse; install it outside "
              "the repository (npm install --prefix /tmp/lh lighthouse@12.8.2) and pass --lighthouse "
              "/tmp/lh/node_modules/.bin/lighthouse")
        return None
    return ["npx", "--no-install", "lighthouse"]


def portrait_jpeg() -> bytes:
    """A plain generated head-and-shoulders picture for the demo licence's system photo (no real face)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (330, 480), (226, 232, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((95, 70, 235, 250), fill=(224, 186, 160))
    draw.rectangle((40, 300, 290, 480), fill=(40, 60, 100))
    draw.ellipse((60, 250, 270, 380), fill=(40, 60, 100))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def prepare(env: dict, instance: Path) -> dict:
    """Migrate, keys, demo data (the CLI, as `make run`), then 李明's e-licence and travel certificate."""
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    for args in (["db", "upgrade"], ["keys", "init"], ["registry", "demo"]):
        subprocess.run(flask + args, cwd=ROOT, env=env, check=True, capture_output=True, text=True)

    os.environ.update(env)
    from sqlalchemy import select

    from webapp import create_app
    from webapp.accounts.models import User
    from webapp.db import get_session
    from webapp.demo.data import demo_password
    from webapp.driving_licence import services as licences
    from webapp.travel_id import services as travel

    app = create_app(instance_path=str(instance))
    with app.app_context():
        session = get_session()
        now = datetime.now(timezone.utc)
        user = session.scalar(select(User).where(User.phone == DEMO_PHONE))
        citizen = user.citizen
        citizen.portrait = portrait_jpeg()
        notifier = app.extensions["notifier"]
        licence = licences.apply(session, citizen=citizen, user_id=user.id, photo_source="system", photo=None,
                                 now=now, cities=None, notifier=notifier)
        licences.proven(session, licence, now, None, notifier=notifier)
        cert = travel.issue(session, citizen=citizen, lat=23.13, lon=113.26, city="广东省广州市", now=now,
                            user_id=user.id, challenge_public_id=None)
        session.commit()
        facts = {"licence": licence.public_id, "cert": cert.public_id,
                 "citizen_password": demo_password(app.config["SECRET_KEY"], DEMO_PHONE),
                 "officer_password": demo_password(app.config["SECRET_KEY"], DEMO_OFFICER)}
    facts["app"] = app
    return facts


def sign_in(base: str, path: str, fields: dict) -> http.cookiejar.CookieJar:
    """GET the sign-in form, POST it with its CSRF token; the cookies of the signed-in session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + path).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, **fields}).encode()
    final = opener.open(base + path, data=body).geturl()
    if path in final:
        raise SystemExit(f"bench/lighthouse.py: signing in at {path} failed (still on {final})")
    return jar


def session_cookie(jar) -> str:
    return next(c.value for c in jar if c.name == "session")


def run_lighthouse(command: list[str], url: str, cookie: str | None, out: Path, chrome: str) -> dict:
    headers = out.with_suffix(".headers.json")
    # zh-CN: the app's default language and its users' (headless Chromium would ask for English).
    headers.write_text(json.dumps({"Accept-Language": "zh-CN,zh;q=0.9",
                                   **({"Cookie": f"session={cookie}"} if cookie else {})}))
    args = command + [
        url, "--quiet", "--output=json", f"--output-path={out}", f"--chrome-flags={CHROME_FLAGS}",
        f"--only-categories={','.join(CATEGORIES)}", "--form-factor=mobile", "--screenEmulation.mobile",
        "--screenEmulation.width=360", "--screenEmulation.height=780", "--screenEmulation.deviceScaleFactor=2",
        f"--extra-headers={headers}"]
    subprocess.run(args, check=True, env={**os.environ, "CHROME_PATH": chrome}, timeout=300)
    return json.loads(out.read_text())


def summarise(report: dict) -> dict:
    cats = {k: round(report["categories"][k]["score"] * 100) for k in CATEGORIES}
    cls = report["audits"]["cumulative-layout-shift"]["numericValue"]
    weights = {ref["id"] for c in CATEGORIES for ref in report["categories"][c]["auditRefs"] if ref["weight"] > 0}
    failing = [f"{a['id']} ({a['score']:.2f}: {a.get('displayValue') or a['title']})"
               for a in report["audits"].values()
               if a["id"] in weights and a.get("score") is not None and a["score"] < 1]
    return {**cats, "cls": cls, "failing": failing, "final_url": report.get("finalDisplayedUrl", "")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lighthouse", help="the Lighthouse CLI (default: $LIGHTHOUSE, else npx --no-install)")
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the JSON reports (their folder is printed)")
    parser.add_argument("--serve", action="store_true",
                        help="prepare and serve, print the pages and their cookies, and wait (to look at a page)")
    args = parser.parse_args()
    command = find_lighthouse(args.lighthouse)
    chrome = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
    if command is None:
        return 0
    if not Path(chrome).exists():
        print(f"bench/lighthouse.py: skipped: no Chromium at {chrome} (set CHROME_PATH)")
        return 0
    version = subprocess.run(command + ["--version"], capture_output=True, text=True).stdout.strip()
    chromium = subprocess.run([chrome, "--version"], capture_output=True, text=True).stdout.strip()

    tmp = Path(tempfile.mkdtemp(prefix="suishen-lighthouse-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SECRET_KEY": "lighthouse-" + os.urandom(16).hex(), "SUISHEN_DEMO": "1",
           "DATABASE_URL": f"sqlite:///{tmp / 'suishen.db'}", "SUISHEN_SIGNING_KEYS": str(tmp / "signing_keys"),
           "SUISHEN_QUEUE_URL": f"sqlite:///{tmp / 'queue.db'}", "BASE_URL": base, "GUNICORN_WORKERS": "2"}
    facts = prepare(env, tmp)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server below on `kill` too
    log = open(tmp / "gunicorn.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind",
                               f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log)
    rows = []
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise SystemExit(f"bench/lighthouse.py: the server did not start; see {tmp / 'gunicorn.log'}")
        citizen = session_cookie(sign_in(base, "/account/login", {
            "account": DEMO_PHONE, "password": facts["citizen_password"]}))
        officer = session_cookie(sign_in(base, "/officer/login", {
            "username": DEMO_OFFICER, "password": facts["officer_password"]}))
        granted = grant_cookie(facts["cert"], app=facts["app"], cookie=citizen)
        pages = [
            ("home", "/", None),
            ("travel-ID apply", "/travel-id/", None),
            ("travel-ID QR", f"/travel-id/{facts['cert']}", granted),
            ("e-licence 正页", f"/licence/{facts['licence']}", citizen),
            ("officer scan", "/officer/scan", officer),
            ("public /v/ result", None, granted),
        ]
        if args.serve:
            print(json.dumps({"base": base, "pages": pages}, ensure_ascii=False), flush=True)
            server.wait()
        load_before = load_average()
        for name, path, cookie in pages:
            if path is None:  # a fresh token of the certificate, as the QR page shows it (valid 60 s)
                request = urllib.request.Request(f"{base}/travel-id/{facts['cert']}/token",
                                                 headers={"Cookie": f"session={granted}"})
                path = urllib.parse.urlparse(json.loads(urllib.request.urlopen(request).read())["url"]).path
                cookie = None
            report = run_lighthouse(command, base + path, cookie, tmp / f"report-{len(rows)}.json", chrome)
            shown = re.sub(r"/v/.+", "/v/<token>", path).replace(facts["cert"], "<id>").replace(facts["licence"], "<id>")
            row = {"page": name, "path": shown, **summarise(report)}
            if not row["final_url"].endswith(path):
                row["failing"].insert(0, f"landed on {row['final_url']}")
            rows.append(row)
            print(f"{name:18} perf {row['performance']:3} a11y {row['accessibility']:3} "
                  f"bp {row['best-practices']:3} seo {row['seo']:3} CLS {row['cls']:.3f}  {row['final_url']}")
            for item in row["failing"]:
                print("    " + item)
        load_after = load_average()
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    if args.keep:
        print(f"reports in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)

    table = ["| page | path | performance | accessibility | best practices | SEO | CLS |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['page']} | `{r['path']}` | {r['performance']} | {r['accessibility']} | {r['best-practices']} | "
              f"{r['seo']} | {r['cls']:.3f} |" for r in rows]
    below = [f"- {r['page']}: " + "; ".join(r["failing"]) for r in rows if r["failing"]]
    print("\n".join(table))
    if args.record:
        stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        text = (f"\n## Lighthouse at 360 × 780 ({stamp}, `bench/lighthouse.py`)\n\n"
                f"{version and 'Lighthouse ' + version}, {chromium} (`{CHROME_FLAGS}`), mobile form factor, "
                f"default simulated throttling; gunicorn (2 workers) on SQLite with the demo data. Machine: "
                f"{machine()}; load average {load_before} before, {load_after} after.\n\n" + "\n".join(table) + "\n")
        if below:
            text += "\nAudits under 1 (scored ones):\n" + "\n".join(below) + "\n"
        with open(ROOT / "bench" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
