"""Small image helpers shared by portraits and photos (Pillow only)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def to_jpeg(array: np.ndarray, quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()
