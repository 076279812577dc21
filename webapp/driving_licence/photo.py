"""Machine checks of a licence portrait (album upload or camera shot) and the stored 22:32 crop.

What a machine can check (SPEC §5.2): one face, the same person as the registry portrait, a head that fits the
32 × 22 mm format (height 19–22 mm, width 14–16 mm, background above and beside it), enough resolution, a light
plain background and colour. What it cannot (bareheaded, taken in the last 6 months) is left to the reviewer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from webapp import images
from webapp.driving_licence import rules
from webapp.proofing import engine

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


@dataclass
class PhotoResult:
    """``failures`` are codes of ``rules.CHECK_MESSAGES`` (empty = passed); ``jpeg`` the stored crop."""

    failures: list[str] = field(default_factory=list)
    jpeg: bytes | None = None
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def messages(self) -> list[str]:
        return [rules.CHECK_MESSAGES[code] for code in self.failures]


def _luma(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114


def check_portrait(data: bytes, reference_encoding: bytes | None, tolerance: float) -> PhotoResult:
    """Run every check that applies and collect one message per failed check.

    The picture is decoded with EXIF orientation honoured (``engine.decode_portrait``), so a phone photo taken
    upright is measured upright. Checks that need a face stop at ``no_face``/``several_faces``.
    """
    import face_recognition  # loads dlib's models (~1-2 s): only a process that checks a photo pays it

    result = PhotoResult()
    if len(data) > MAX_UPLOAD_BYTES:
        result.failures.append("too_large")
        return result
    try:
        image = engine.decode_portrait(data)
    except engine.PortraitError:
        result.failures.append("bad_image")
        return result
    boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1)
    if not boxes:
        result.failures.append("no_face")
        return result
    if len(boxes) > 1:
        result.failures.append("several_faces")
        return result
    if reference_encoding is not None:
        encoding = face_recognition.face_encodings(image, known_face_locations=boxes)[0]
        distance = engine.distance_to(reference_encoding, encoding)
        result.measures["distance"] = round(distance, 4)
        if distance > tolerance:
            result.failures.append("not_same_person")

    marks = face_recognition.face_landmarks(image, boxes)[0]
    chin = marks["chin"]
    brow_y = min(p[1] for p in marks["left_eyebrow"] + marks["right_eyebrow"])
    crop = rules.plan_crop(image.shape[:2], chin_y=chin[8][1], brow_y=brow_y, jaw_left=chin[0][0],
                           jaw_right=chin[16][0])
    if crop is None or not rules.head_width_ok(crop.head_width_mm):
        result.failures.append("proportions")
        return result
    result.measures.update(head_height_mm=crop.head_height_mm, head_width_mm=round(crop.head_width_mm, 2),
                           crop_height_px=crop.height)
    if crop.height < rules.MIN_CROP_HEIGHT_PX:
        result.failures.append("resolution")

    pixels = image[crop.top:crop.top + crop.height, crop.left:crop.left + crop.width].astype(np.float64)
    # Background: the band above the head and the strips beside it down to the brows.
    top_band = round(rules.TOP_MARGIN_MM / rules.PHOTO_HEIGHT_MM * crop.height)
    side_rows = slice(0, max(top_band + 1, int(brow_y) - crop.top))
    jaw_l, jaw_r = int(chin[0][0]) - crop.left, int(chin[16][0]) - crop.left
    margin = max(1, round(crop.width * 0.06))
    samples = [pixels[:max(1, top_band)].reshape(-1, 3)]
    if jaw_l - margin > 0:
        samples.append(pixels[side_rows, :jaw_l - margin].reshape(-1, 3))
    if crop.width - (jaw_r + margin) > 0:
        samples.append(pixels[side_rows, jaw_r + margin:].reshape(-1, 3))
    background = _luma(np.concatenate(samples))
    result.measures.update(background_luma=round(float(background.mean()), 1),
                           background_std=round(float(background.std()), 1))
    if background.mean() < rules.BACKGROUND_MIN_LUMA or background.std() > rules.BACKGROUND_MAX_STD:
        result.failures.append("background")

    top, right, bottom, left = boxes[0]
    face = image[top:bottom, left:right].astype(np.float64)
    colourfulness = float((np.abs(face[..., 0] - face[..., 1]) + np.abs(face[..., 1] - face[..., 2])).mean())
    result.measures["colourfulness"] = round(colourfulness, 1)
    if colourfulness < rules.MIN_COLOURFULNESS:
        result.failures.append("colour")

    if result.passed:
        cropped = Image.fromarray(image[crop.top:crop.top + crop.height, crop.left:crop.left + crop.width])
        resized = cropped.resize(rules.STORED_SIZE_PX, Image.Resampling.LANCZOS)
        result.jpeg = images.to_jpeg(np.asarray(resized))
    return result
