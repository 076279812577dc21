"""Small image helpers shared by portraits and photos (Pillow only)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def to_jpeg(array: np.ndarray, quality: int = 85) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def fit_width(array: np.ndarray, width: int) -> np.ndarray:
    """Scale down (never up) to at most ``width`` pixels wide."""
    if array.shape[1] <= width:
        return array
    height = max(1, round(array.shape[0] * width / array.shape[1]))
    return np.asarray(Image.fromarray(array).resize((width, height), Image.Resampling.LANCZOS))
