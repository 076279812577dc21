"""The QR image of a credential's rotating token (SPEC §6): an SVG data: URI drawn on the server.

The QR page polls for a new one every 60 s, so drawing it is on a hot path. segno's default searches for the best
of the eight data masks by drawing and scoring every one, which was ~5 of the ~7 ms a code cost. The token URLs are
all alike (same base, alphabet and length), and mask 0 is the one that search picks for ~90 % of them; any mask
gives a valid code (the mask only evens out dark and light areas for the scanner), so we fix it. ``make_qr`` also
skips trying a Micro QR, which a URL never fits. tests/unit/test_qr.py decodes fixed-mask codes with zxing-cpp, as
a phone camera would.
"""
from __future__ import annotations

import segno

MASK = 0
ERROR = "m"     # 15 % of the code can be lost (glare, a crease in a screen protector)
SCALE = 6       # pixels per module in the SVG's own size; the page scales it to the screen
BORDER = 2      # quiet zone in modules, on the white card of the QR page


def make(text: str) -> segno.QRCode:
    return segno.make_qr(text, error=ERROR, mask=MASK)


def svg_data_uri(text: str) -> str:
    """The QR of ``text`` (a token URL) as a ``data:image/svg+xml`` URI for an ``<img src>``."""
    return make(text).svg_data_uri(scale=SCALE, border=BORDER)
