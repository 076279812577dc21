"""Liveness + face-match engine: camera frames in, a :class:`Decision` out.

Image work only (Pillow, numpy, face_recognition/dlib HOG); no Flask, no database. The rules and
thresholds live in :mod:`webapp.proofing.rules`; this module measures and applies them.

Cost (see ``bench/liveness.py``): on the bench machine a whole-frame HOG scan of a 640x480 frame costs
~0.03 s, an encoding ~0.09 s, one landmark fit ~1.5 ms; one plain ``face_recognition.face_encodings`` call
(detection with one upsample, then an encoding) ~0.19 s. A decision follows the face instead of looking for it
in every frame:

* **Anchors.** The first and the last frame get a whole-frame scan (faces down to 1/8 of the frame width). When
  the face was followed from one to the other without a break (below), it is one person by continuity and a single
  encoding, of the most frontal open-eyed frame, serves the match; otherwise the first and the last frame and the
  frames after the breaks are encoded, and the same-person check compares them all.
* **Following.** Every frame in between is scanned only in a window around the previous frame's face box
  (grown by ``TRACK_MARGIN`` of its width), rescaled so the face is ~``TRACK_FACE_PX`` wide (~2-4 ms). It must
  hold exactly one face; a face lost, or two in the window, sends that frame to a whole-frame scan.
* **Breaks.** In the previous frame's box, a grey 16x16 thumbnail of the face is compared between consecutive
  frames. A box that jumps (``JUMP_SHIFT``/``JUMP_SCALE``) or a picture that changes there (``PATCH_CHANGE``)
  is a break: that frame is scanned whole (so whoever came into the picture is counted), and the frame after
  each of the ``MAX_JUMPS_ENCODED`` biggest breaks is encoded too, so a face swapped in between the anchors
  meets the same-person check (the frame before a break is, by the same measure, the face of the frame
  before it, back to an anchor or an earlier break that is encoded).
* **Holding.** A frame whose thumbnail in the last detected box has not changed (``HOLD_CHANGE``) keeps that box
  without a scan: a still face costs a 0.05 ms thumbnail instead of a 2-4 ms window scan.
* Landmarks (EAR, yaw, the 68 points for depth) run on the blink-phase frames only, once each, and a second time
  from another box where the eye could be either open or closed (``REFIT_RATIOS``).

Issue 15's checks (docs/liveness.md): **depth** fits one homography to the jaw, brow and nose landmarks between the
frontal frame and the most turned ones (a photo or a screen moves as a plane); the **flash** frames are placed on
the steps the server revealed (``rules.flash_timeline``, from the page's capture times), the colour check reads the
face on the frames grabbed once the light settled, and **reflection** checks that the light started with each step
(the frame grabbed as a colour was painted still shows the previous one), that the background took far less of it
than the face, and, where the eyes are large enough, that they took at least as much as the skin.

What following cannot see, and what covers it:

* A second face away from the user's (outside the window) in a frame between the anchors, while nothing
  changes where the user's face is. It is seen if it is still there in the last frame; if it comes and goes in
  between, it took no part in the measurements, which are all made in the user's face box.
* Another face swapped in where the user's was: the thumbnail there changes (measured: S001 -> S029 0.42 and
  0.50; the same face blinking or under the colour flash at most 0.09; a real talking head moving, up to
  0.84, which only costs an encoding), so the frame after it is encoded and compared. With more than
  ``MAX_JUMPS_ENCODED`` breaks, a swap at a smaller one is caught only if the other face is still there in the
  last frame.
* A gradual morph from one face into another (digital injection, not a camera): no single break, so one
  encoding: only the face matched is checked. A camera cannot morph a face; an injector capable of it is beyond
  what a browser can stop (docs/liveness.md).
"""
from __future__ import annotations

import io
import statistics
import time
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from webapp.proofing import rules
from webapp.proofing.rules import ChallengePlan, FlashTimeline, Policy

#: Per-frame scans rescale the window so the previous face is this wide: HOG finds faces >= 80 px, so the face
#: may shrink by a quarter between two frames and still be found (lost, it is found by a whole-frame scan).
#: 90 px made the window scans ~35 % cheaper (4-16 % of a loaded decision) but moved the printed-photo and replay
#: attacks' shallowest EAR minimum from 0.85 to 0.83 of the baseline in bench/liveness_eval.py; kept at 110.
TRACK_FACE_PX = 110
#: The tracking scale is re-chosen only when the face, at that scale, leaves this range of widths
#: (as fractions of TRACK_FACE_PX; 0.8 x 110 = 88 px is still above HOG's 80 px window). Keeping the scale
#: keeps the detector's box steady: at a new scale its box steps move the landmarks, and so the EAR.
TRACK_RESCALE = (0.8, 1.25)
#: Most a tracking scan enlarges a frame (a tiny face is left to the whole-frame scan).
TRACK_MAX_UPSCALE = 2.0
#: A whole-frame scan finds faces down to this fraction of the frame width (80 px at 640 wide).
FULL_SCAN_MIN_FACE = 1 / 8
#: Between consecutive frames, a face box moving more than this many box widths, or changing width by
#: more than this factor, could be a swap: both frames are then encoded and compared.
JUMP_SHIFT = 0.5
JUMP_SCALE = 1.5
#: At most this many breaks (jumps of the box or changes of the picture in it) get an encoding of the frame
#: after them (each costs ~0.1 s). With more breaks than this, a face swapped in at a smaller one is caught
#: only if it is still there in the last frame (a talking head has 2-4 breaks in 40 frames; a still user 0).
MAX_JUMPS_ENCODED = 3
#: Between anchors the face is looked for only in a window around its last box, grown by this fraction of the
#: box width on every side.
TRACK_MARGIN = 0.25
#: A frame whose face thumbnail, in the box last detected, differs from that box's own by less than this (1 -
#: correlation) keeps the box without a scan: the face has not moved (a blink or the flash's light changes the
#: thumbnail by more, and get their scan). Drift adds up against the detected box, so a slow move is rescanned.
HOLD_CHANGE = 0.02
#: Side of the grey face thumbnail compared between consecutive frames, pixels.
PATCH_SIZE = 16
#: A thumbnail change (1 - correlation) above this between two frames could be a swap: both get an encoding.
PATCH_CHANGE = 0.3
#: Landmarks of blink-phase frames are found from two boxes (the detected box grown and shrunk by 4 % of
#: the width) and the EAR averaged: dlib's landmarks follow the box, and averaging halves the EAR noise of
#: narrow eyes at 320x240 (static obama: s.d. 0.078 -> 0.041 of the baseline). Two boxes instead of three
#: (the third was the box as detected) save ~1.5-3 ms per frame and keep the margins of
#: bench/liveness_eval.py (genuine deepest 0.35-0.54 of the baseline, attacks never below 0.85).
LANDMARK_BOX_GROWTH = (0.04, -0.04)
#: ...but only where it matters: frames whose first fit puts the EAR between these fractions of the session's
#: open-eye median (neither clearly open nor clearly closed) get the second fit. A still user's open frames (most
#: of them) are fitted once: ~1.5-3 ms saved per frame.
REFIT_RATIOS = (0.5, 0.95)
#: The face area whose colour is measured: the detection box shrunk by this fraction on each side,
#: so background and hair at the edges do not dilute the reflected light.
COLOUR_BOX_INSET = 0.1
_LUMA = np.array([0.299, 0.587, 0.114])
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})


def _models() -> types.ModuleType:
    """``face_recognition.api``, imported on first use: the import loads dlib's four models (~1.0-1.9 s of CPU,
    ~200 MB), which a web worker that only inspects frame headers (:func:`inspect_frame`) must not pay."""
    import face_recognition.api

    return face_recognition.api


class BadFrame(ValueError):
    """An upload that is not a usable image (not an image, too big, a decompression bomb...)."""


class FrameTooLarge(BadFrame):
    """More bytes or pixels than the engine needs (a camera frame is far smaller)."""


class UnsupportedFormat(BadFrame):
    """An image, but not JPEG, PNG or WebP."""


class PortraitError(ValueError):
    """A portrait that cannot be used as a reference; ``code`` is a rules reason code."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)

    @property
    def message(self) -> str:
        return rules.REASON_MESSAGES[self.code]


# --- Decoding ---------------------------------------------------------------------------------------------
def _complete(data: bytes, image_format: str) -> bool:
    """Whether the file ends like a whole JPEG/PNG does.

    Importing face_recognition sets Pillow's global ``ImageFile.LOAD_TRUNCATED_IMAGES``, so a frame
    cut short in transit would otherwise decode with its lower part grey. Browser canvases end JPEGs
    with the EOI marker and PNGs with IEND; camera files may carry trailers, so portraits skip this.
    """
    if image_format == "JPEG":
        return b"\xff\xd9" in data[-16:]
    if image_format == "PNG":
        return data.endswith(b"IEND\xaeB`\x82")
    return True


@dataclass(frozen=True)
class FrameInfo:
    """What an uploaded frame's header says: ``format`` (JPEG, PNG, WEBP), pixel size and Pillow ``mode``."""

    format: str
    width: int
    height: int
    mode: str


def _open_header(data: bytes, *, max_bytes: int, max_side: int, max_pixels: int, check_end: bool) -> Image.Image:
    """Open an image lazily (Pillow reads the header, no pixel) and check it against the limits."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadFrame("image data must be bytes")
    if len(data) == 0:
        raise BadFrame("empty image")
    if len(data) > max_bytes:
        raise FrameTooLarge(f"image is {len(data)} bytes, at most {max_bytes} accepted")
    try:
        with warnings.catch_warnings():
            # Our limits sit far below Pillow's bomb limit; a header over it is refused below as too large.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(ALLOWED_FORMATS))
    except Image.DecompressionBombError as exc:
        raise FrameTooLarge("image is too large") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedFormat("unsupported image format (JPEG, PNG or WebP only)") from exc
    except Exception as exc:
        raise BadFrame(f"not a readable image: {type(exc).__name__}") from exc
    if image.format not in ALLOWED_FORMATS:
        raise UnsupportedFormat(f"unsupported image format {image.format}")
    if check_end and not _complete(bytes(data[-16:]), image.format):
        raise BadFrame("image data is truncated")
    w, h = image.size
    # Checked on the header, before any pixel is decoded: a 2 KB PNG can inflate to gigabytes.
    if w < 1 or h < 1 or w > max_side or h > max_side or w * h > max_pixels:
        raise FrameTooLarge(f"image is {w}x{h} pixels, too large")
    return image


def inspect_frame(data: bytes) -> FrameInfo:
    """Format, size and mode of an uploaded camera frame from its header alone: no pixel is decoded.

    For the web worker, before a frame is queued: it refuses everything :func:`decode_frame` would refuse
    without decoding (bytes over ``rules.MAX_FRAME_BYTES``, a format other than JPEG/PNG/WebP, a JPEG or PNG
    cut short, more than ``rules.MAX_FRAME_SIDE`` / ``rules.MAX_FRAME_PIXELS``). A frame that passes can still
    fail to decode (corrupt pixel data): the deciding worker's :func:`decode_frame` has the last word.

    :raises BadFrame: as above.
    """
    image = _open_header(data, max_bytes=rules.MAX_FRAME_BYTES, max_side=rules.MAX_FRAME_SIDE,
                         max_pixels=rules.MAX_FRAME_PIXELS, check_end=True)
    return FrameInfo(format=image.format, width=image.width, height=image.height, mode=image.mode)


def _decode(
    data: bytes, *, max_bytes: int, max_side: int, max_pixels: int, width: int, check_end: bool = False
) -> np.ndarray:
    image = _open_header(data, max_bytes=max_bytes, max_side=max_side, max_pixels=max_pixels, check_end=check_end)
    # Pillow raises a zoo of exception types on hostile input (OSError, SyntaxError, struct.error,
    # ValueError, EOFError...); every one of them means "not a usable image".
    try:
        if image.format == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still covers the target width.
            image.draft("RGB", (width, width))
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGB")
        if image.width > width:
            height = max(1, round(image.height * width / image.width))
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:
        raise BadFrame(f"not a readable image: {type(exc).__name__}") from exc
    return np.ascontiguousarray(array)


def decode_frame(data: bytes) -> np.ndarray:
    """Decode one uploaded camera frame to an RGB ``uint8`` array at most ``FRAME_WIDTH`` wide.

    Honours the EXIF orientation. Accepts JPEG, PNG and WebP; a JPEG or PNG cut short is refused.

    :raises BadFrame: for anything that is not an image of an acceptable size.
    """
    return _decode(
        data,
        max_bytes=rules.MAX_FRAME_BYTES,
        max_side=rules.MAX_FRAME_SIDE,
        max_pixels=rules.MAX_FRAME_PIXELS,
        width=rules.FRAME_WIDTH,
        check_end=True,
    )


def decode_portrait(image_bytes: bytes) -> np.ndarray:
    """Decode a registry portrait (larger limits than a camera frame), at most ``PORTRAIT_WIDTH`` wide.

    :raises PortraitError: with code ``bad_frame`` when it is not a usable image.
    """
    try:
        return _decode(
            image_bytes,
            max_bytes=rules.MAX_PORTRAIT_BYTES,
            max_side=rules.MAX_PORTRAIT_SIDE,
            max_pixels=rules.MAX_PORTRAIT_PIXELS,
            width=rules.PORTRAIT_WIDTH,
        )
    except BadFrame as exc:
        raise PortraitError(rules.BAD_FRAME, str(exc)) from exc


def encode_face(image: np.ndarray) -> np.ndarray:
    """The 128-d encoding of the one face in a decoded image.

    :raises PortraitError: with code ``no_face`` or ``several_faces``.
    """
    # One upsample: portraits may be small (a 320x240 scan) and this runs once per import.
    boxes = _models().face_locations(image, number_of_times_to_upsample=1)
    if not boxes:
        raise PortraitError(rules.NO_FACE)
    if len(boxes) > 1:
        raise PortraitError(rules.SEVERAL_FACES, f"{len(boxes)} faces")
    return _models().face_encodings(image, known_face_locations=boxes)[0]


def encode_portrait(image_bytes: bytes) -> np.ndarray:
    """The 128-d face encoding of a registry portrait (exactly one face).

    :raises PortraitError: with code ``bad_frame`` (not a usable image), ``no_face`` or
        ``several_faces``.
    """
    return encode_face(decode_portrait(image_bytes))


def distance_to(reference_encoding: bytes, encoding: np.ndarray) -> float:
    """face_recognition distance between a stored registry encoding (float64 bytes) and a fresh encoding."""
    reference = np.frombuffer(reference_encoding, dtype=np.float64)
    # face_recognition.face_distance is this norm; computed here so that comparing needs no model.
    return float(np.linalg.norm(reference - np.asarray(encoding, dtype=np.float64)))


def warm_headers() -> None:
    """Load Pillow's readers of the accepted formats now, e.g. in the gunicorn master before it forks.

    The first :func:`inspect_frame` in a process imports them (Pillow's ``preinit`` plus the WebP plugin, ~20 ms
    of CPU, ~95 ms when the bytecode is not cached yet), which a fresh web worker's first 实人核验 upload paid.
    """
    Image.preinit()
    from PIL import WebPImagePlugin  # noqa: F401 - registers the WebP reader (not part of preinit)


def warm_up() -> float:
    """Decode a small JPEG, run the detector, both landmark models and the encoder once on a blank image; returns
    CPU seconds (~0.1).

    The expensive part is loading the models: face_recognition loads dlib's four models when it is imported
    (~1.0-1.9 s of CPU on the bench machine), which this module does on first use (:func:`_models`) so that
    importing it for :func:`inspect_frame` stays cheap. A process that decides (a queue worker at start, or a
    gunicorn master with ``preload_app`` before it forks, so the workers share the models copy-on-write) should
    call this once, so that no user's decision pays for it and a broken model install fails at start:
    through gunicorn, a fresh worker's first decision cost 1.7-2.9 s of CPU against 0.4-1.0 s for the next
    ones (bench/liveness_endpoint.py).
    """
    started = time.process_time()
    blank = np.zeros((120, 120, 3), np.uint8)
    jpeg = io.BytesIO()
    Image.fromarray(blank).save(jpeg, "JPEG")
    decode_frame(jpeg.getvalue())  # the readers and libjpeg's first use (~5 ms of a first decision otherwise)
    api = _models()
    api.face_detector(blank, 0)
    rect = api.dlib.rectangle(20, 20, 100, 100)
    api.pose_predictor_68_point(blank, rect)
    api.face_encoder.compute_face_descriptor(blank, api.pose_predictor_5_point(blank, rect), 1)
    return time.process_time() - started


# --- Decision ---------------------------------------------------------------------------------------------
@dataclass
class Decision:
    """The outcome of one attempt. ``scores`` is JSON-serialisable and says what was measured."""

    passed: bool
    reason: str | None
    scores: dict[str, float | int | list | dict | None] = field(default_factory=dict)

    @property
    def message(self) -> str | None:
        return rules.REASON_MESSAGES.get(self.reason) if self.reason else None


Box = tuple[int, int, int, int]  # face_recognition's (top, right, bottom, left)


def _rescale(frame: np.ndarray, scale: float) -> np.ndarray:
    if abs(scale - 1.0) < 0.02:
        return frame
    h, w = frame.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))


def _scan(frame: np.ndarray, scale: float, upsample: int) -> list[Box]:
    """HOG face boxes of ``frame`` scanned at ``scale``, in the frame's own coordinates."""
    boxes = _models().face_locations(_rescale(frame, scale), number_of_times_to_upsample=upsample)
    h, w = frame.shape[:2]
    return [
        (
            max(0, round(t / scale)),
            min(w, round(r / scale)),
            min(h, round(b / scale)),
            max(0, round(l / scale)),
        )
        for t, r, b, l in boxes
    ]


def _full_scan(frame: np.ndarray) -> list[Box]:
    """Whole-frame scan finding faces down to FULL_SCAN_MIN_FACE of the width (80 px HOG window)."""
    width = frame.shape[1]
    min_face = width * FULL_SCAN_MIN_FACE
    if min_face >= 80:
        return _scan(frame, 80 / min_face, 0)
    upsample = 1 if min_face >= 40 else 2
    return _scan(frame, 1.0, upsample)


def _track_scale(face_width: float) -> float:
    return min(TRACK_MAX_UPSCALE, TRACK_FACE_PX / max(face_width, 1.0))


def _grow(box: Box, growth: float) -> Box:
    """The box grown (or shrunk, if negative) by ``growth`` of its width on every side."""
    t, r, b, l = box
    d = round((r - l) * growth)
    return (t - d, r + d, b + d, l - d)


def _box_width(box: Box) -> int:
    return box[1] - box[3]


def _region_mean(frame: np.ndarray, box: Box, inset: float) -> tuple[float, float, float]:
    t, r, b, l = box
    dy, dx = round((b - t) * inset), round((r - l) * inset)
    region = frame[t + dy : b - dy, l + dx : r - dx]
    if region.size == 0:
        region = frame[t:b, l:r]
    if region.size == 0:
        return (0.0, 0.0, 0.0)
    # Exact integer sums, one axis at a time: the same means as a float64 mean, ~10x faster on a face box.
    sums = np.add.reduce(np.add.reduce(region, axis=0, dtype=np.int64), axis=0)
    count = region.shape[0] * region.shape[1]
    return (float(sums[0] / count), float(sums[1] / count), float(sums[2] / count))


def _frame_luma(frame: np.ndarray) -> float:
    return rules.luma(frame[::4, ::4].reshape(-1, 3).mean(axis=0))


def _jump(a: Box, b: Box) -> float:
    """How far the face box moved between two frames, as a multiple of the allowed jump (> 1 = jump)."""
    wa, wb = max(_box_width(a), 1), max(_box_width(b), 1)
    ca = ((a[1] + a[3]) / 2, (a[0] + a[2]) / 2)
    cb = ((b[1] + b[3]) / 2, (b[0] + b[2]) / 2)
    shift = np.hypot(ca[0] - cb[0], ca[1] - cb[1]) / max(wa, wb)
    growth = max(wa, wb) / min(wa, wb)
    return max(shift / JUMP_SHIFT, np.log(growth) / np.log(JUMP_SCALE))


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def _valid_frame(frame: object) -> bool:
    return (
        isinstance(frame, np.ndarray)
        and frame.dtype == np.uint8
        and frame.ndim == 3
        and frame.shape[2] == 3
        and frame.shape[0] >= 32
        and frame.shape[1] >= 32
    )


@dataclass
class _Track:
    """Where the face is in one frame, and how much the picture changed there since the previous frame."""

    box: Box
    patch: np.ndarray
    change: float


def _local_scan(frame: np.ndarray, box: Box, scale: float) -> list[Box]:
    """HOG face boxes in a window around ``box`` (grown by TRACK_MARGIN of its width on every side), scanned
    at ``scale``, in the frame's own coordinates."""
    h, w = frame.shape[:2]
    t, r, b, l = _grow(box, TRACK_MARGIN)
    t, r, b, l = max(0, t), min(w, r), min(h, b), max(0, l)
    if r - l < 8 or b - t < 8:
        return []
    window = frame[t:b, l:r]
    size = (max(1, round((r - l) * scale)), max(1, round((b - t) * scale)))
    if size != (r - l, b - t):
        window = np.asarray(Image.fromarray(window).resize(size, Image.Resampling.BILINEAR))
    sx, sy = (r - l) / size[0], (b - t) / size[1]
    return [
        (
            max(0, round(t + d.top() * sy)),
            min(w, round(l + d.right() * sx)),
            min(h, round(t + d.bottom() * sy)),
            max(0, round(l + d.left() * sx)),
        )
        for d in _models().face_detector(np.ascontiguousarray(window), 0)
    ]


def _patch(frame: np.ndarray, box: Box) -> np.ndarray:
    """A PATCH_SIZE-square grey thumbnail of the inner face, zero mean and unit norm (compared between frames).

    Point-sampled on a grid twice as fine and averaged 2x2: ~0.05 ms, against ~0.8 ms for a Pillow resize.
    """
    h, w = frame.shape[:2]
    t, r, b, l = box
    dy, dx = round((b - t) * COLOUR_BOX_INSET), round((r - l) * COLOUR_BOX_INSET)
    t, r, b, l = max(0, t + dy), min(w, r - dx), min(h, b - dy), max(0, l + dx)
    if r - l < 2 or b - t < 2:
        return np.zeros(PATCH_SIZE * PATCH_SIZE)
    side = 2 * PATCH_SIZE
    ys = np.linspace(t, b - 1, side).round().astype(np.intp)
    xs = np.linspace(l, r - 1, side).round().astype(np.intp)
    grey = frame[np.ix_(ys, xs)].astype(np.float64) @ _LUMA
    values = grey.reshape(PATCH_SIZE, 2, PATCH_SIZE, 2).mean(axis=(1, 3)).reshape(-1)
    values -= values.mean()
    norm = np.linalg.norm(values)
    return values / norm if norm > 1e-9 else values


def _patch_change(a: np.ndarray, b: np.ndarray) -> float:
    """1 - correlation of two face thumbnails: 0 for the same picture, ~1 for unrelated ones."""
    return float(1.0 - np.dot(a, b))


def _encode(frame: np.ndarray, box: Box) -> np.ndarray:
    t, r, b, l = box
    api = _models()
    shape = api.pose_predictor_5_point(frame, api.dlib.rectangle(l, t, r, b))
    return np.array(api.face_encoder.compute_face_descriptor(frame, shape, 1))


_PARTS = {"chin": (0, 17), "left_eyebrow": (17, 22), "right_eyebrow": (22, 27), "nose_bridge": (27, 31),
          "nose_tip": (31, 36), "left_eye": (36, 42), "right_eye": (42, 48)}


def _landmarks(frame: np.ndarray, box: Box) -> np.ndarray:
    """dlib's 68 landmarks in ``box`` as a (68, 2) array of (x, y)."""
    t, r, b, l = box
    api = _models()
    shape = api.pose_predictor_68_point(frame, api.dlib.rectangle(l, t, r, b))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def _named(points: np.ndarray) -> dict[str, np.ndarray]:
    """The parts of 68 landmarks by face_recognition's names (what the rules read)."""
    return {name: points[a:b] for name, (a, b) in _PARTS.items()}


def _frontal_frame(ears: list[float], yaws: list[float]) -> int:
    """The blink-phase frame to encode alone: eyes open (EAR at least 90 % of the median), the head nearest its
    starting yaw; the latest of equals."""
    baseline = rules.blink_baseline(ears)
    start = statistics.median(yaws[: rules.TURN_START_FRAMES])
    candidates = [i for i, e in enumerate(ears) if e >= 0.9 * baseline] or list(range(len(ears)))
    return min(candidates, key=lambda i: (round(abs(yaws[i] - start), 2), -i))


def _depth(points: list[np.ndarray], yaws: list[float], turn: str | None) -> float:
    """How far the landmarks of the most turned frames are from any plane's motion (rules.planar_residual): the
    median over the three frames turned furthest (the asked way, or either way without a turn) from the frontal
    frame of the start."""
    if len(points) < 2:
        return 0.0
    start = yaws[: rules.TURN_START_FRAMES]
    middle = statistics.median(start)
    reference = points[min(range(len(start)), key=lambda i: abs(start[i] - middle))]
    sign = {"left": 1.0, "right": -1.0}.get(turn or "", 0.0)
    away = [(sign * (y - middle) if sign else abs(y - middle), i) for i, y in enumerate(yaws)]
    furthest = [i for _, i in sorted(away, reverse=True)[:3]]
    return float(statistics.median(rules.planar_residual(reference, points[i]) for i in furthest))


def _background_mask(frame: np.ndarray, boxes: Sequence[Box]) -> np.ndarray | None:
    """Pixels (every 4th row and column) of the background: outside every face box grown by
    LIGHT_BACKGROUND_MARGIN of its width, above the lowest chin, neither clipped nor black in ``frame``."""
    h, w = frame.shape[:2]
    keep = np.zeros((h, w), dtype=bool)
    keep[: max(b for _, _, b, _ in boxes), :] = True
    for box in boxes:
        t, r, b, l = _grow(box, rules.LIGHT_BACKGROUND_MARGIN)
        keep[max(0, t):max(0, b), max(0, l):max(0, r)] = False
    keep = keep[::4, ::4]
    small = frame[::4, ::4]
    keep &= (small.max(axis=2) < 250) & (small.astype(np.float32) @ _LUMA.astype(np.float32) > 15)
    return keep if keep.mean() >= rules.LIGHT_MIN_BACKGROUND_SHARE else None


def _mean_where(frame: np.ndarray, mask: np.ndarray) -> tuple[float, float, float]:
    pixels = frame[::4, ::4][mask]
    sums = pixels.sum(axis=0, dtype=np.int64)
    return (float(sums[0] / len(pixels)), float(sums[1] / len(pixels)), float(sums[2] / len(pixels)))


def _eye_windows(frame: np.ndarray, box: Box, eyes: np.ndarray, side: float) -> tuple[float, float, float]:
    """Mean colour of square windows of ``side`` pixels around both eyes (positions relative to the face box)."""
    t, r, _, l = box
    width = max(r - l, 1)
    total, count = np.zeros(3), 0
    for ex, ey in eyes:
        x, y = l + ex * width, t + ey * width
        half = max(1, round(side / 2))
        window = frame[max(0, round(y) - half):round(y) + half + 1, max(0, round(x) - half):round(x) + half + 1]
        total += window.reshape(-1, 3).sum(axis=0)
        count += window.shape[0] * window.shape[1]
    return tuple(float(v) for v in total / max(count, 1))


def _flash(frames: list[np.ndarray], boxes: list[Box], face: list[tuple[float, float, float]],
           last_points: np.ndarray, last_box: Box, plan: ChallengePlan, timeline: FlashTimeline, policy: Policy,
           scores: dict) -> tuple[bool, bool]:
    """The colour check (the face follows the revealed colours) and the reflected-light check; fills ``scores``."""
    per = plan.frames_per_colour
    steps = [i // per for i in range(len(frames))]
    steady = [i for i in range(len(frames)) if timeline.steady(i)]
    shown = [plan.colours[steps[i]] for i in steady]
    face_steady = [face[i] for i in steady]
    correlation = rules.colour_correlation(face_steady, shown)
    amplitude = rules.colour_amplitude(face_steady, shown)
    colour_ok = rules.colour_passes(correlation, amplitude, policy)
    onset = rules.light_onset(face, steps, timeline)
    mask = _background_mask(frames[0], boxes)
    background = None
    if mask is not None:
        background = rules.background_ratio(face_steady, [_mean_where(frames[i], mask) for i in steady], shown)
    eye_width = float(np.linalg.norm(last_points[39] - last_points[36])
                      + np.linalg.norm(last_points[45] - last_points[42])) / 2
    eyes = None
    if eye_width >= rules.LIGHT_EYE_MIN_WIDTH:
        t, _, _, l = last_box
        width = max(_box_width(last_box), 1)
        centres = (np.array([last_points[36:42].mean(axis=0), last_points[42:48].mean(axis=0)]) - [l, t]) / width
        eye_means = [_eye_windows(frames[i], boxes[i], centres, 0.45 * eye_width * _box_width(boxes[i]) / width)
                     for i in steady]
        eyes = rules.colour_correlation(eye_means, shown)
        scores["light_eye_ratio"] = _r(rules.eye_ratio(face_steady, eye_means, shown), 3)
    scores.update(
        colour_correlation=_r(correlation),
        colour_amplitude=_r(amplitude, 2),
        # Frames are not kept, so keep the series: thresholds can be re-tuned on real traffic.
        colour_means=[[_r(v, 2) for v in mean] for mean in face],
        colour_ages_ms=[_r(a, 1) for a in timeline.ages_ms],
        light_onset=_r(onset, 3) if np.isfinite(onset) else None,
        light_background_ratio=None if background is None else _r(min(background, 99.0), 3),
        light_eye_width=_r(eye_width, 1),
        light_eye_correlation=None if eyes is None else _r(eyes, 3),
    )
    return colour_ok, rules.light_passes(onset, background, eyes, policy)


def decide(
    blink_frames: Sequence[np.ndarray],
    colour_frames: Sequence[np.ndarray],
    plan: ChallengePlan,
    reference: np.ndarray | Sequence[float] | None,
    policy: Policy,
    timeline: FlashTimeline | None = None,
) -> Decision:
    """Decide one liveness + face-match attempt.

    Checks run in this order and the first failure is the reason: frame count (``too_few_frames``,
    ``bad_frame``), exactly one face in every frame (the anchors and breaks searched whole, the others in a
    window around the face, see the module docstring) (``no_face``, or ``too_dark`` when the faceless
    frame is dark; ``several_faces``), light (``too_dark``), the same person throughout
    (``not_same_person``), blink (``no_blink``), turn (``no_turn``), depth (``flat_face``: the landmarks of the
    turn fit one homography), flash timing (``flash_timing``: the capture times do not fit the steps the server
    revealed), colour (``colour_mismatch``), reflected light (``light_implausible``: it did not start with the
    steps, the background took as much of it as the face, or large eyes showed no catch light), face match against
    ``reference`` (``face_mismatch``; also when ``reference`` is None). Checks missing from ``policy.checks`` are
    measured where cheap but not enforced; the match always runs. Once every frame has one face the remaining
    checks are all measured, so ``scores`` shows every margin.

    :param blink_frames: RGB frames captured while the user was asked to blink (and turn).
    :param colour_frames: ``plan.colour_frame_count`` RGB frames captured in order, ``plan.frames_per_colour``
        per flash step; may be empty when ``"colour"`` is not in ``policy.checks``.
    :param plan: the challenge the page was given.
    :param reference: the 128-d encoding of the registry portrait.
    :param timeline: the colour frames placed on the revealed steps (:func:`rules.flash_timeline`); without it, or
        with a problem in it, the colour check fails.
    """
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}
    blink_frames, colour_frames = list(blink_frames), list(colour_frames)
    frames = blink_frames + colour_frames
    n_blink, n_colour = len(blink_frames), len(colour_frames)
    scores: dict = {"frames": {"blink": n_blink, "colour": n_colour}, "checks": sorted(policy.checks)}

    def finish(reason: str | None) -> Decision:
        timings["total"] = (time.perf_counter() - started_wall) * 1000
        scores["timings_ms"] = {key: _r(value, 1) for key, value in timings.items()}
        scores["cpu_ms"] = _r((time.process_time() - started_cpu) * 1000, 1)
        return Decision(passed=reason is None, reason=reason, scores=scores)

    colour_on = "colour" in policy.checks
    if n_blink < rules.MIN_FRAMES or (colour_on and n_colour < plan.colour_frame_count):
        return finish(rules.TOO_FEW_FRAMES)
    if len(frames) > rules.MAX_FRAMES or (colour_on and n_colour > plan.colour_frame_count):
        return finish(rules.BAD_FRAME)
    if not all(_valid_frame(frame) for frame in frames):
        return finish(rules.BAD_FRAME)

    # --- one face per frame: whole-frame scans on the anchors, followed in between ---
    t0 = time.perf_counter()
    anchors = {0, len(frames) - 1}
    tracks: list[_Track] = []
    faces_per_frame: list[int] = []
    full_scans = 0
    scale: float | None = None
    failure: str | None = None
    held_patch: np.ndarray | None = None  # the previous frame's box's thumbnail when that box was detected
    held = 0
    for index, frame in enumerate(frames):
        found: list[Box] = []
        # This frame's thumbnail in the previous frame's box (the box last detected): what the hold, the picture
        # change and, when the box stays, the track compare; taken once.
        here = _patch(frame, tracks[-1].box) if tracks else None
        if scale is not None and index not in anchors and _patch_change(held_patch, here) < HOLD_CHANGE:
            found = [tracks[-1].box]  # the picture in the box has not changed since it was detected: no scan
            held += 1
        elif scale is not None:
            found = _local_scan(frame, tracks[-1].box, scale)
        whole: list[Box] | None = None
        if index in anchors or len(found) != 1:
            # Anchors, the first face, and a face lost or doubled in its window: look at the whole frame.
            whole = _full_scan(frame)
            full_scans += 1
            if len(whole) > len(found) or (len(found) != 1 and whole):
                found = whole
        change = 0.0
        if len(found) == 1 and tracks:
            # The picture change is measured in one window (the previous box) on both frames: comparing each
            # frame's own box would count the detector's box steps (up to ~10 % of the width) as changes.
            change = _patch_change(tracks[-1].patch, here)
            if whole is None and max(_jump(tracks[-1].box, found[0]), change / PATCH_CHANGE) > 1.0:
                # A break in the track (the face moved far, or the picture there changed): whoever else came
                # into the picture with it is looked for in the whole frame too.
                whole = _full_scan(frame)
                full_scans += 1
                if len(whole) > 1:
                    found = whole
        faces_per_frame.append(len(found))
        if len(found) != 1:
            if len(found) > 1:
                failure = rules.SEVERAL_FACES
            elif _frame_luma(frame) < policy.min_face_luma:
                failure = rules.TOO_DARK  # no face because there is no light: say what to fix
            else:
                failure = rules.NO_FACE
            break
        box = found[0]
        previous = tracks[-1].box if tracks else None
        tracks.append(_Track(box=box, patch=here if box == previous else _patch(frame, box), change=change))
        if box != previous:
            held_patch = tracks[-1].patch
        width = _box_width(box)
        if scale is None or not TRACK_RESCALE[0] <= width * scale / TRACK_FACE_PX <= TRACK_RESCALE[1]:
            scale = _track_scale(width)
    timings["detect"] = (time.perf_counter() - t0) * 1000
    scores["faces_per_frame"] = faces_per_frame
    scores["full_scans"] = full_scans
    scores["held_boxes"] = held
    if failure:
        scores["failed_frame"] = len(faces_per_frame) - 1
        return finish(failure)
    boxes = [track.box for track in tracks]

    # --- landmarks, EAR, yaw, light, colour means ---
    t0 = time.perf_counter()
    ears: list[float] = []
    yaws: list[float] = []
    points: list[np.ndarray] = []
    lumas: list[float] = []
    colour_means: list[tuple[float, float, float]] = []
    for index, (frame, box) in enumerate(zip(frames, boxes)):
        if index < n_blink:
            points.append(_landmarks(frame, _grow(box, LANDMARK_BOX_GROWTH[0])))
            named = _named(points[-1])
            ears.append(rules.mean_eye_aspect_ratio(named))
            yaws.append(rules.yaw_ratio(named))
        lumas.append(rules.luma(_region_mean(frame, box, 0.0)))
        if index >= n_blink:
            colour_means.append(_region_mean(frame, box, COLOUR_BOX_INSET))
    # The frames whose eyes could be either open or closed get a second fit from the other box, and the mean:
    # dlib's landmarks follow the box, and the mean halves the EAR noise where it decides a blink.
    first = rules.blink_baseline(ears)
    refits = 0
    for index in range(n_blink):
        if first and REFIT_RATIOS[0] < ears[index] / first < REFIT_RATIOS[1]:
            other = _landmarks(frames[index], _grow(boxes[index], LANDMARK_BOX_GROWTH[1]))
            named = _named(other)
            ears[index] = (ears[index] + rules.mean_eye_aspect_ratio(named)) / 2
            yaws[index] = (yaws[index] + rules.yaw_ratio(named)) / 2
            points[index] = (points[index] + other) / 2
            refits += 1
    scores["landmark_fits"] = n_blink + refits
    timings["landmarks"] = (time.perf_counter() - t0) * 1000

    baseline = rules.blink_baseline(ears)
    blinks = rules.count_blinks(ears, policy)
    scores.update(
        face_luma=_r(statistics.median(lumas), 1),
        ears=[_r(e, 3) for e in ears],
        ear_baseline=_r(baseline),
        ear_min=_r(min(ears)),
        ear_min_ratio=_r(min(ears) / baseline) if baseline else 0.0,
        blinks=blinks,
        blinks_asked=plan.blinks,
        yaws=[_r(y, 3) for y in yaws],
        yaw_min=_r(min(yaws)),
        yaw_max=_r(max(yaws)),
        turn_asked=plan.turn,
    )
    turned = True  # nothing to check when the plan asked for no turn
    if plan.turn:
        shift = rules.turn_shift(yaws, plan.turn)
        scores["turn_shift"] = _r(shift)
        turned = shift >= policy.turn_min_yaw
    depth = _depth(points, yaws, plan.turn)
    scores["depth_residual"] = _r(depth)
    colour_ok = light_ok = True
    timing_ok = timeline is not None and timeline.ok
    if timeline is not None and not timeline.ok:
        scores["flash_timing"] = timeline.problem
    if n_colour:
        colour_ok = light_ok = False
        if n_colour == plan.colour_frame_count and timing_ok:
            colour_ok, light_ok = _flash(frames[n_blink:], boxes[n_blink:], colour_means, points[-1],
                                         boxes[n_blink - 1], plan, timeline, policy, scores)
    # --- encodings: first and last frame, plus the frame after each of the biggest breaks in the track ---
    t0 = time.perf_counter()
    jumps = [_jump(boxes[i - 1], boxes[i]) for i in range(1, len(boxes))]
    changes = [track.change for track in tracks[1:]]
    breaks = sorted(
        ((max(jump, change / PATCH_CHANGE), i) for i, (jump, change) in enumerate(zip(jumps, changes), 1)),
        reverse=True,
    )
    scores["max_jump"] = _r(max(jumps, default=0.0), 2)
    scores["max_picture_change"] = _r(max(changes, default=0.0), 3)
    after_breaks = {index for size, index in breaks[:MAX_JUMPS_ENCODED] if size > 1.0}
    if after_breaks:
        encode_at = {0, len(frames) - 1} | after_breaks
    else:
        # One face followed without a break from the first frame to the last: the same person throughout by
        # continuity, so one encoding, of the most frontal open-eyed frame, serves the match.
        encode_at = {_frontal_frame(ears, yaws) if ears else len(frames) - 1}
    encode_at_sorted = sorted(encode_at)
    encodings = [_encode(frames[i], boxes[i]) for i in encode_at_sorted]
    timings["encode"] = (time.perf_counter() - t0) * 1000
    stack = np.vstack(encodings)
    pairwise = np.linalg.norm(stack[:, None, :] - stack[None, :, :], axis=-1)
    same_person = float(pairwise.max())
    scores.update(encoded_frames=encode_at_sorted, same_person_max_distance=_r(same_person))
    match_distance: float | None = None
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64).reshape(-1)
        if ref.shape == (128,):
            distances = np.linalg.norm(stack - ref, axis=1)
            match_distance = float(distances.max())
            scores["match_distances"] = [_r(d) for d in distances]
    scores["match_distance"] = None if match_distance is None else _r(match_distance)
    scores["tolerance"] = policy.tolerance

    if rules.too_dark(lumas, policy):
        return finish(rules.TOO_DARK)
    if same_person > policy.same_person_tolerance:
        return finish(rules.NOT_SAME_PERSON)
    if "blink" in policy.checks and blinks < plan.blinks:
        return finish(rules.NO_BLINK)
    if "turn" in policy.checks and not turned:
        return finish(rules.NO_TURN)
    if "depth" in policy.checks and not rules.depth_passes(depth, policy):
        return finish(rules.FLAT_FACE)
    if colour_on and not timing_ok:
        return finish(rules.FLASH_TIMING)
    if colour_on and not colour_ok:
        return finish(rules.COLOUR_MISMATCH)
    if "reflection" in policy.checks and not light_ok:
        return finish(rules.LIGHT_IMPLAUSIBLE)
    if match_distance is None or match_distance > policy.tolerance:
        return finish(rules.FACE_MISMATCH)
    return finish(None)
