"""The QR of the rotating token is drawn with a fixed mask (webapp/codes.py) and still decodes as a camera reads it.

The SVG the page shows is decoded from a browser screenshot in tests/e2e/test_travel_browser.py.
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
import zxingcpp
from PIL import Image

from webapp import codes as qr
from webapp import tokens

SECRET = "unit-test-secret"
T0 = datetime(2026, 11, 20, 2, 0, 0, tzinfo=timezone.utc)
BASES = ["http://localhost", "http://127.0.0.1:8000", "https://suishen.example.gov.cn",
         "https://verify.railway-and-police-services.example.gov.cn:8443"]


def decode(code) -> str:
    out = io.BytesIO()
    code.save(out, kind="png", scale=4, border=4)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(out.getvalue())))
    assert len(found) == 1, f"{len(found)} codes decoded"
    return found[0].text


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("kind", ["travel_id", "driving_licence"])
def test_fixed_mask_code_decodes_to_the_token_url_when_bases_and_windows_vary(base, kind):
    for minute in range(0, 600, 37):   # 17 windows: different signatures, so different module patterns
        url = f"{base}/v/{tokens.issue(SECRET, kind, 'AbCdEf_123-xyz456', T0 + timedelta(minutes=minute))}"
        code = qr.make(url)
        assert code.mask == qr.MASK and not code.is_micro
        assert decode(code) == url

