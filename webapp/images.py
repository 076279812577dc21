"""Small image helpers shared by portraits and photos (Pillow only)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from webapp.lazytext import _l


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


# Photo uploads (licence portrait, ID card): what the browser may send, and how a stored JPEG is shown inline.
UPLOAD_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
BAD_TYPE_MESSAGE = _l("照片格式不支持，请使用 JPEG、PNG 或 WebP 图片。")


def upload_type_ok(upload) -> bool:
    """Whether an uploaded file declares one of UPLOAD_TYPES (the decoder checks the bytes themselves)."""
    return (getattr(upload, "mimetype", "") or "").lower() in UPLOAD_TYPES


def jpeg_data_uri(data: bytes | None) -> str | None:
    """A stored JPEG as a data: URI for an <img> (no extra request, nothing cacheable), or None."""
    if not data:
        return None
    import base64

    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
