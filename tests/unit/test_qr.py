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
from webapp.signing import rules
from tests.verification_support import facts_token

T0 = datetime(2026, 11, 20, 2, 0, 0, tzinfo=timezone.utc)
FACTS = {"travel_id": rules.CredentialFacts("travel_id", 123_456, "欧***", T0 + timedelta(hours=24), ticket=("full",)),
         "driving_licence": rules.CredentialFacts("driving_licence", 123_457, "李*", None, licence_class="A1A2D",
                                                  licence_status="正常")}
BASES = ["http://localhost", "http://127.0.0.1:8000", "https://suishen.example.gov.cn",
         "https://verify.railway-and-police-services.example.gov.cn:8443"]


def decode(code) -> str:
    out = io.BytesIO()
    code.save(out, kind="png", scale=4, border=4)
    # QR only: in a version-13 symbol zxing-cpp now and then also "finds" a small code of another format.
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(out.getvalue())), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} codes decoded"
    return found[0].text


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("kind", ["travel_id", "driving_licence"])
def test_fixed_mask_code_decodes_to_the_token_url_when_bases_and_windows_vary(base, kind):
    for minute in range(0, 600, 37):   # 17 windows: different signatures, so different module patterns
        url = f"{base}/v/{facts_token(FACTS[kind], T0 + timedelta(minutes=minute), base=base)}"
        code = qr.make(url)
        assert code.mask == qr.MASK and not code.is_micro
        assert decode(code) == url

