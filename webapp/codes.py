"""A credential's codes, as its holder shows them and a scanner reads them (SPEC §6), for both credentials:

- the token (:func:`token`: the one place a token is made: the signed CWT of ``webapp.signing``, checkable offline);
- the URL any phone camera opens, ``BASE_URL/v/<token>`` (:func:`verify_url`);
- the QR of that URL as an SVG ``data:`` URI (:func:`qr_svg`);
- for the e-licence, the 22-digit numeric code as a Code128 barcode, also an SVG ``data:`` URI (:func:`barcode_svg`).

The QR page polls for a new code every 60 s, so drawing it is on a hot path. segno's default searches for the best
of the eight data masks by drawing and scoring every one, which was ~5 of the ~7 ms a code cost. The token URLs are
all alike (same base, alphabet and length), and mask 0 is the one that search picks for ~90 % of them; any mask
gives a valid code (the mask only evens out dark and light areas for the scanner), so we fix it. ``make_qr`` also
skips trying a Micro QR, which a URL never fits. tests/unit/test_qr.py decodes fixed-mask codes with zxing-cpp, as
a phone camera would.
"""
from __future__ import annotations

import base64
from datetime import datetime

import barcode
import segno
from flask import current_app

from webapp import signing, tokens

MASK = 0
ERROR = "m"     # 15 % of the code can be lost (glare, a crease in a screen protector)
SCALE = 6       # pixels per module in the SVG's own size; the page scales it to the screen
BORDER = 2      # quiet zone in modules, on the white card of the QR page
BARCODE_QUIET = 10   # modules of quiet zone either side of the Code128
BARCODE_HEIGHT = 60  # in modules; the page sets the real height


def token(credential, now: datetime) -> str:
    """The rotating token of a credential (a TravelCertificate or an ElectronicLicence) for the window of ``now``:
    a COSE_Sign1-signed CWT that any verifier can check with the published keys (webapp.signing, docs/offline.md).

    :raises ServiceUnavailable: no key can sign now
    """
    return signing.make_token(credential, now)


def verify_url(base_url: str, value: str) -> str:
    """What any phone camera opens: the public check of the token (verification.views.public)."""
    return f"{base_url}/v/{value}"


def make(text: str) -> segno.QRCode:
    return segno.make_qr(text, error=ERROR, mask=MASK)


def qr_svg(text: str) -> str:
    """The QR of ``text`` (a token URL) as a ``data:image/svg+xml`` URI for an ``<img src>``."""
    return make(text).svg_data_uri(scale=SCALE, border=BORDER)


def barcode_svg(code: str) -> tuple[str, int]:
    """Code128 of the numeric code (22 digits, set C: 156 modules) as a compact SVG data URI: python-barcode
    encodes, we draw one rect per bar in module units with a viewBox, so it scales to the screen width (its
    SVGWriter draws fixed millimetres, ~4× larger). Also returns the width in modules, quiet zones included, so
    the page can size it to a whole number of device pixels per module."""
    modules = barcode.Code128(code).build()[0]
    bars, x = [], 0
    while x < len(modules):
        if modules[x] == "1":
            run = len(modules[x:]) - len(modules[x:].lstrip("1"))
            bars.append(f'<rect x="{x + BARCODE_QUIET}" width="{run}" height="{BARCODE_HEIGHT}"/>')
            x += run
        else:
            x += 1
    width = len(modules) + 2 * BARCODE_QUIET
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {BARCODE_HEIGHT}" '
           f'preserveAspectRatio="none" shape-rendering="crispEdges"><rect width="{width}" height="{BARCODE_HEIGHT}" '
           f'fill="#fff"/><g fill="#000">{"".join(bars)}</g></svg>')
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii"), width


def qr_fields(credential, now: datetime) -> dict:
    """What a QR page's poll answers: the token, its URL, the QR and the seconds until the next window."""
    value = token(credential, now)
    url = verify_url(current_app.config["BASE_URL"], value)
    return {"token": value, "url": url, "qr": qr_svg(url), "refresh_in": round(tokens.seconds_left(now), 3)}


def barcode_modules() -> int:
    """The Code128's width in modules (quiet zones included): every numeric code has the same 22 digits, so the same
    width; the show page sizes the barcode with it before the first code arrives (no layout shift)."""
    digits = tokens.NUMERIC_ID_DIGITS + tokens.NUMERIC_WINDOW_DIGITS + tokens.NUMERIC_MAC_DIGITS + 1
    return barcode_svg("0" * digits)[1]


def barcode_fields(secret: str, kind: str, db_id: int, now: datetime) -> dict:
    """The numeric code of the window of ``now`` (it carries the integer id): as digits, grouped, and as Code128."""
    code = tokens.issue_numeric(secret, kind, db_id, now)
    uri, modules = barcode_svg(code)
    return {"code": code, "code_text": tokens.group_digits(code), "barcode": uri, "barcode_modules": modules}
