"""Offline verification (issue 17): what one offline check costs against one API verify, measured in one run, and
what the signed token does to the QR (version, size, and how fast the vendored jsQR reads it), with and without a
tiny portrait in the token.

Run from the repository root:  .venv/bin/python bench/offline.py [--n 2000] [--record]

- offline: ``scripts/offline_verify.verify`` in-process with the JWKS and the status list already loaded (what a
  gate does per scan), and the same check in Chromium (static/js/offline_verify.js: WebCrypto + tiny-cbor);
- online: ``POST /api/v1/verify`` through the app in-process (Flask test client, SQLite file, API key): the
  server's work per scan (key cache, token check, one lookup, the audit INSERT), without any network;
- QR: the URL of a travel ID's and a licence's token at a typical BASE_URL: QR version at error level M and
  modules; jsQR decode time and success over 20 tokens, drawn as the page draws them and downscaled to what a
  camera frame of the scan page (640 px wide) holds at half and a third of its width; the same with a portrait
  of 24x32 and 32x40 px (grey JPEG) added to the token.
Figures only: it prints (and with --record appends to bench/RESULTS.md), never asserts.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cbor2  # noqa: E402
import segno  # noqa: E402
from PIL import Image  # noqa: E402

from webapp import create_app, migrate  # noqa: E402
from webapp.signing import credential_token, keys, rules  # noqa: E402
from webapp.signing.keys import KeyRing  # noqa: E402

BASE = "https://suishen.example.cn"
CHROMIUM = os.environ.get("SUISHEN_CHROMIUM", "/usr/bin/chromium")
FACE = ROOT.parent / "shared" / "testdata" / "faces" / "meds-aa-S001-02.jpg"


def median_us(fn, n: int) -> float:
    for _ in range(min(50, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def portrait(size: tuple[int, int]) -> bytes:
    image = Image.open(FACE).convert("L") if FACE.exists() else Image.new("L", (240, 320), 128)
    width, height = image.size
    side = min(width, height * 3 // 4)
    image = image.crop(((width - side) // 2, 0, (width + side) // 2, side * 4 // 3)).resize(size)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=40, optimize=True)
    return out.getvalue()


def token_with(key, facts, at, extra: bytes | None = None) -> str:
    """A token as the app makes it; with ``extra``, a portrait in one more private claim (-65538)."""
    token = credential_token.issue(key, facts, rules.token_times(at), issuer=BASE, status_uri=BASE + "/status-list")
    if extra is None:
        return token
    raw = credential_token.b64decode(token)
    protected, _, payload, _ = cbor2.loads(raw).value
    claims = {**cbor2.loads(payload), -65538: extra}
    signed = credential_token.COSE_CONTEXT.encode_and_sign(cbor2.dumps(claims), key.private_cose(),
                                                           protected=cbor2.loads(protected), unprotected={})
    return credential_token.b64encode(signed)


def qr_png(url: str, module_px: int) -> bytes:
    out = io.BytesIO()
    segno.make_qr(url, error="m", mask=0).save(out, kind="png", scale=module_px, border=2)
    return out.getvalue()


def bench_offline_and_api(n: int, workdir: Path) -> dict:
    from tests.verification_support import load_offline_verifier

    verifier = load_offline_verifier()
    keydir = workdir / "keys"
    now = datetime.now(UTC)
    keys.init_keys(keydir, now - timedelta(days=1))
    url = f"sqlite:///{workdir / 'bench.db'}"
    migrate.upgrade(url)
    app = create_app({"SUISHEN_ENV": "testing", "SECRET_KEY": "bench", "DATABASE_URL": url,
                      "SUISHEN_SIGNING_KEYS": str(keydir), "RATELIMIT_ENABLED": False, "BASE_URL": BASE,
                      "SUISHEN_QUEUE_URL": "immediate://", "SUISHEN_VAPID_PUBLIC_KEY": "",
                      "SUISHEN_VAPID_PRIVATE_KEY": ""})
    from tests import factories
    from tests.verification_support import make_api_key, make_certificate, qr_text
    from webapp.db import get_session

    with app.app_context():
        session = get_session()
        factories.bind(session)
        cert = make_certificate(session, factories.CitizenFactory(), now)
        _key, raw_key = make_api_key(session, now)
        session.commit()
        text = qr_text(app, cert, now)
    client = app.test_client()
    trust = verifier.Trust(client.get("/.well-known/jwks.json").get_json(), client.get("/status-list").data)
    assert verifier.verify(text, trust).verdict == "valid"
    headers = {"Authorization": f"Bearer {raw_key}"}
    assert client.post("/api/v1/verify", json={"qr": text}, headers=headers).get_json()["valid"]
    offline_us = median_us(lambda: verifier.verify(text, trust), n)
    api_us = median_us(lambda: client.post("/api/v1/verify", json={"qr": text}, headers=headers), max(200, n // 4))
    return {"offline_us": offline_us, "api_us": api_us, "text": text, "trust": trust, "client": client}


JSQR_PAGE = """async ([pngs, width]) => {
    const out = [];
    for (const b64 of pngs) {
        const img = new Image();
        img.src = "data:image/png;base64," + b64;
        await img.decode();
        const w = width, h = Math.round(img.naturalHeight * w / img.naturalWidth);
        const canvas = document.createElement("canvas");
        canvas.width = w; canvas.height = h;
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.imageSmoothingQuality = "high";
        ctx.drawImage(img, 0, 0, w, h);
        const data = ctx.getImageData(0, 0, w, h);
        const start = performance.now();
        const code = jsQR(data.data, w, h, { inversionAttempts: "dontInvert" });
        out.push({ ok: Boolean(code), ms: performance.now() - start });
    }
    return out;
}"""


def bench_qr(page, key, workdir: Path) -> list[str]:
    now = datetime.now(UTC)
    travel = rules.CredentialFacts(rules.TRAVEL_ID, 1_234_567, "欧***", now + timedelta(hours=24), ticket=("full",))
    licence = rules.CredentialFacts(rules.DRIVING_LICENCE, 1_234_567, "李*", None, licence_class="A1A2D",
                                    licence_status="正常")
    variants = [("travel ID", travel, None), ("e-licence", licence, None)]
    for size in ((24, 32), (32, 40)):
        jpeg = portrait(size)
        variants.append((f"travel ID + {size[0]}x{size[1]} portrait ({len(jpeg)} B)", travel, jpeg))
    lines = [("| token | URL chars | QR version (M) | modules | jsQR @ 320 px: read, median ms | "
              "@ 213 px: read, median ms |"), "|---|---|---|---|---|---|"]
    for name, facts, extra in variants:
        urls = [f"{BASE}/v/{token_with(key, facts, now + timedelta(minutes=i), extra)}" for i in range(20)]
        code = segno.make_qr(urls[0], error="m", mask=0)
        pngs = [base64.b64encode(qr_png(u, 6)).decode() for u in urls]
        cells = []
        for width in (320, 213):   # half and a third of the scan page's 640 px frame
            found = page.evaluate(JSQR_PAGE, [pngs, width])
            ok = sum(f["ok"] for f in found)
            cells.append(f"{ok}/{len(found)}, {statistics.median(f['ms'] for f in found):.1f}")
        lines.append(f"| {name} | {len(urls[0])} | {code.version} | {code.symbol_size(border=0)[0]} | "
                     f"{cells[0]} | {cells[1]} |")
    old = "https://suishen.example.cn/v/T.AbCdEf_123-xyz456.29876543.Xy1_abcDEFghiJKLmnoPQRstu"
    lines.append(f"| (before: HMAC token) | {len(old)} | {segno.make_qr(old, error='m').version} | "
                 f"{segno.make_qr(old, error='m').symbol_size(border=0)[0]} | | |")
    return lines


def bench_browser(result: dict, key, workdir: Path, n: int) -> tuple[list[str], float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.add_script_tag(path=str(ROOT / "static" / "vendor" / "jsQR-1.4.0.js"))
        qr_lines = bench_qr(page, key, workdir)
        # The page's own offline check, timed in the page: serve the static folder and the trust from memory.
        client = result["client"]
        jwks, status = client.get("/.well-known/jwks.json").data, client.get("/status-list").data
        page2 = browser.new_page()

        def route(request):   # a playwright Route
            path = request.request.url.split("://", 1)[1].split("/", 1)[1]
            if path == ".well-known/jwks.json":
                return request.fulfill(body=jwks, content_type="application/json")
            if path == "status-list":
                return request.fulfill(body=status, content_type="application/statuslist+cwt")
            if path.startswith("static/"):
                file = ROOT / path.split("?")[0]
                return request.fulfill(path=str(file), content_type="text/javascript" if file.suffix == ".js"
                                       else "text/html")
            return request.fulfill(body="<!doctype html><title>bench</title>", content_type="text/html")

        page2.route("**/*", route)
        page2.goto("http://localhost/")   # a secure context, for WebCrypto
        js_us = page2.evaluate("""async ([text, n]) => {
            const m = await import("/static/js/offline_verify.js");
            const trust = await m.loadTrust("/.well-known/jwks.json", "/status-list");
            const check = await m.verifyOffline(text, trust, Date.now(), 3600);
            if (check.verdict !== "valid") throw new Error(JSON.stringify(check));
            for (let i = 0; i < 50; i++) await m.verifyOffline(text, trust, Date.now(), 3600);
            const times = [];
            for (let i = 0; i < n; i++) {
                const start = performance.now();
                await m.verifyOffline(text, trust, Date.now(), 3600);
                times.push(performance.now() - start);
            }
            times.sort((a, b) => a - b);
            return times[Math.floor(n / 2)] * 1000;
        }""", [result["text"], min(n, 1000)])
        browser.close()
    return qr_lines, js_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--record", action="store_true", help="append the figures to bench/RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        result = bench_offline_and_api(args.n, workdir)
        key = KeyRing(workdir / "keys").signer(datetime.now(UTC))
        qr_lines, js_us = bench_browser(result, key, workdir, args.n)
    load = os.getloadavg()
    lines = [
        f"## Offline verification ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, bench/offline.py)",
        (f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}; load "
         f"average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}."),
        "",
        "| one verification | median |",
        "|---|---|",
        f"| offline, in-process (scripts/offline_verify.py: ES256 + CBOR + status list) | {result['offline_us']:.0f} µs |",
        f"| offline, in Chromium (static/js/offline_verify.js: WebCrypto + tiny-cbor) | {js_us:.0f} µs |",
        f"| POST /api/v1/verify in-process (test client, SQLite, API key; no network) | {result['api_us']:.0f} µs |",
        "",
        f"API verify / offline in-process: **{result['api_us'] / result['offline_us']:.1f}x**.",
        "",
        *qr_lines,
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.record:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
