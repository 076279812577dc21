"""Rules of 实人核验 (liveness + face match): reason codes, thresholds and pure scoring functions.

Nothing here does I/O or touches images: the engine (``engine.py``) turns camera frames into numbers
(eye aspect ratios, face-area colour means, nose positions, face distances) and these functions decide
what the numbers mean. Every threshold is a named constant with its unit, and every one of them was
measured on the real sequences in ``shared/testdata`` (see ``bench/liveness_eval.py``).
"""
from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import timedelta

from webapp.lazytext import _l

# --- Reason codes (stored with each attempt; shown to the user through REASON_MESSAGES) -------------
NO_FACE = "no_face"
SEVERAL_FACES = "several_faces"
NOT_SAME_PERSON = "not_same_person"
NO_BLINK = "no_blink"
TOO_DARK = "too_dark"
COLOUR_MISMATCH = "colour_mismatch"
NO_TURN = "no_turn"
FACE_MISMATCH = "face_mismatch"
TOO_FEW_FRAMES = "too_few_frames"
BAD_FRAME = "bad_frame"
EXPIRED = "expired"
USED = "used"

REASON_MESSAGES: dict[str, str] = {
    NO_FACE: _l("未检测到人脸，请将面部完整置于取景框内并正对镜头，然后重试。"),
    SEVERAL_FACES: _l("检测到多张人脸，请确保画面中只有您本人，然后重试。"),
    NOT_SAME_PERSON: _l("前后不是同一人，请由本人全程面对镜头完成核验。"),
    NO_BLINK: _l("未检测到眨眼，请正对镜头，听到提示后自然地眨一眨眼，然后重试。"),
    TOO_DARK: _l("光线太暗，请到光线充足的地方、避免背光，然后重试。"),
    COLOUR_MISMATCH: _l("炫彩校验未通过，请调高屏幕亮度、让面部靠近屏幕，闪光过程中保持不动，然后重试。"),
    NO_TURN: _l("未检测到转头，请按提示方向缓慢转头，再转回正面，然后重试。"),
    FACE_MISMATCH: _l("与登记照片不是同一人，请确认由本人进行核验；多次失败可改用其他方式办理。"),
    TOO_FEW_FRAMES: _l("采集的画面不足，请保持网络畅通、核验完成前不要离开页面，然后重试。"),
    BAD_FRAME: _l("图像无法识别，请重新拍摄。"),
    EXPIRED: _l("核验已超时，请重新开始。"),
    USED: _l("该核验已使用，请重新发起核验。"),
}

# --- Challenge -----------------------------------------------------------------------------------
#: A challenge is single-use and must be answered within this time after it was issued.
CHALLENGE_TTL = timedelta(seconds=60)
#: Screen colours of the 炫彩 flash, and the RGB (0–255) the page must paint full-screen for each.
COLOURS: tuple[str, ...] = ("red", "yellow", "blue", "green")
COLOUR_NAMES: dict[str, str] = {"red": _l("红"), "yellow": _l("黄"), "blue": _l("蓝"), "green": _l("绿")}
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "blue": (0, 0, 255),
    "green": (0, 255, 0),
}
#: Frames the page captures while each colour is shown (4 colours x 4 = 16 frames, ~2 s at 8 fps).
FRAMES_PER_COLOUR = 4
#: After switching colour the page waits this long before capturing: screen and camera exposure lag.
COLOUR_SETTLE = timedelta(milliseconds=200)
#: Blinks asked for by a challenge.
BLINKS_ASKED = 1
TURN_DIRECTIONS: tuple[str, ...] = ("left", "right")
TURN_NAMES: dict[str, str] = {"left": _l("向左"), "right": _l("向右")}

# --- Frames (what the server accepts) ---------------------------------------------------------------
#: Fewest blink-phase frames: ~1 s at 10 fps, the shortest span that can hold open → closed → open.
MIN_FRAMES = 10
#: Most frames in one submission (blink + colour): ~3 s of blink at 8–10 fps plus 16 colour frames.
MAX_FRAMES = 48
#: Largest accepted encoded frame, bytes. A 640x480 JPEG at quality 0.9 is ~50–100 KB.
MAX_FRAME_BYTES = 256 * 1024
#: Frames wider than this are downscaled before any analysis, pixels (the camera page sends at most this wide).
FRAME_WIDTH = 640
#: Largest accepted frame side and area, pixels, checked on the header *before* decoding (decompression bombs,
#: and frames bigger than the engine needs). The page sends at most FRAME_WIDTH wide (640x480; 640x1138 from a
#: 720x1280 portrait camera); twice that leaves room for other clients and still decodes in a few ms, where
#: 4096x3072 (the old limit) let 48 one-bit PNGs of ~1.5 KB each cost 8-9 s of CPU to decode.
MAX_FRAME_SIDE = 2 * FRAME_WIDTH
MAX_FRAME_PIXELS = 2 * FRAME_WIDTH * 2 * 480
#: What the frames request accepts, read from each frame's header before anything is decoded (the web worker
#: decodes nothing; the face worker then never gets more than a camera frame): formats and colour modes a
#: canvas produces (no 1-bit or palette PNG), the largest (long side, short side) — twice what the page sends,
#: for a phone that ignores the 640-pixel request — and the smallest side a face can be found in.
UPLOAD_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
UPLOAD_MODES = frozenset({"RGB", "RGBA", "L"})
MAX_UPLOAD_SIZE = (MAX_FRAME_SIDE, MAX_FRAME_PIXELS // MAX_FRAME_SIDE)
MIN_UPLOAD_SIDE = 120
#: Registry portraits: bytes, side and area before decoding; analysed at most this wide.
MAX_PORTRAIT_BYTES = 10 * 1024 * 1024
MAX_PORTRAIT_SIDE = 8192
MAX_PORTRAIT_PIXELS = 40_000_000
PORTRAIT_WIDTH = 1024

# --- Thresholds ----------------------------------------------------------------------------------------
#: face_recognition distance at or under which two faces are the same person (library default).
#: Measured (bench/liveness_eval.py): same person 0.26–0.44 (the worst: S001 sequence vs S001-03 and
#: obama sequence vs obama2, photos years apart); different people 0.71–1.00 (the closest: the
#: no_blink_video man vs S001-03). 0.6 leaves 0.16 / 0.11 on either side.
DEFAULT_TOLERANCE = 0.6
#: Largest distance between the encoded frames of one session. The warped-still sequences stay under
#: 0.08, but the real talking-head video (no_blink_video) reaches 0.43 within 2.8 s, so this is kept
#: at the library default rather than tightened; different people start at 0.71.
SAME_PERSON_TOLERANCE = 0.6
#: An eye counts as closed when its EAR falls to this fraction of the session's open-eye baseline
#: (a drop of at least 30 %), and as open again from BLINK_OPEN_RATIO up. Measured with the engine
#: on every test sequence, all frames and 20-frame windows, at 640x480 and 320x240 (ratio to the
#: window's median EAR): genuine frames with the lids closed 0.39–0.58, half-closed 0.65–0.82, open
#: 0.89–1.10; attacks (printed photos, talking without blinking) never below 0.85. So 0.70 leaves
#: ≥ 0.12 to genuine closed frames and 0.15 to the attacks.
BLINK_CLOSED_RATIO = 0.70
#: Open again: genuine open frames are ≥ 0.89 of the baseline even at 320x240; the 0.1 gap to the
#: closed ratio is hysteresis, so noise around one threshold cannot make a blink.
BLINK_OPEN_RATIO = 0.80
#: Colour check: Pearson correlation between the chroma shifts of the face and the shown colours.
#: Measured with the engine: the order shown gives 0.998–1.000 on colour_flash_tinted (640 and
#: 320 px); the best *wrong* permutation gives 0.74 (two neighbours swapped, the closest any two of
#: the 24 orders get: 0.73 noise-free); the untinted control at most 0.36 over all 24 orders.
COLOUR_MIN_CORRELATION = 0.8
#: ...and the reflected light must move the face's chroma by at least this much, in 0–255 levels per
#: full-scale screen colour: the tinted sequence moves 24–25, the untinted control at most 0.4.
#: Real screen light is weaker than the test tint (10 % blend); keep this low and re-tune it on the
#: stored ``colour_means`` of real attempts.
COLOUR_MIN_AMPLITUDE = 1.0
#: Median face-box luma (Rec. 601, 0–255) below which the picture is too dark to judge; the test
#: sequences sit at 89–117. A face under this is refused rather than risking a wrong decision.
MIN_FACE_LUMA = 40.0
#: Turn check: the nose must move at least this far (yaw_ratio, in jaw widths) the asked way from
#: where it was in the first TURN_START_FRAMES frames. Relative, because people sit at an angle (the
#: obama sequence faces the camera at +0.15). A talking head moves 0.19 peak to peak
#: (no_blink_video); a deliberate ~25° turn should move the nose ~0.3 (estimate). Not tuned on real turns yet (no test
#: data); a frontal detector keeps finding faces up to ~30–40°.
TURN_MIN_YAW = 0.2
TURN_START_FRAMES = 3

CHECKS: frozenset[str] = frozenset({"blink", "colour", "turn", "match"})
DEFAULT_CHECKS_SETTING = "blink,colour,match"


@dataclass(frozen=True)
class Policy:
    """Which checks a deployment requires and the thresholds they use.

    ``match`` is always forced into ``checks``: liveness without the face match proves nothing.
    """

    checks: frozenset[str] = frozenset({"blink", "colour", "match"})
    tolerance: float = DEFAULT_TOLERANCE
    same_person_tolerance: float = SAME_PERSON_TOLERANCE
    blink_closed_ratio: float = BLINK_CLOSED_RATIO
    blink_open_ratio: float = BLINK_OPEN_RATIO
    colour_min_correlation: float = COLOUR_MIN_CORRELATION
    colour_min_amplitude: float = COLOUR_MIN_AMPLITUDE
    min_face_luma: float = MIN_FACE_LUMA
    turn_min_yaw: float = TURN_MIN_YAW

    def __post_init__(self) -> None:
        checks = frozenset(self.checks)
        unknown = checks - CHECKS
        if unknown:
            raise ValueError(f"unknown liveness check(s): {', '.join(sorted(unknown))}")
        # frozen dataclass: the forced "match" has to be written past the frozen __setattr__.
        object.__setattr__(self, "checks", checks | {"match"})
        if not 0.0 < self.tolerance < 1.0:
            raise ValueError(f"face tolerance must be between 0 and 1, got {self.tolerance}")
        if not 0.0 < self.blink_closed_ratio < self.blink_open_ratio <= 1.0:
            raise ValueError("blink ratios must satisfy 0 < closed < open <= 1")

    @classmethod
    def from_setting(cls, checks_csv: str, tolerance: float = DEFAULT_TOLERANCE) -> Policy:
        """Build the policy from ``SUISHEN_LIVENESS_CHECKS`` and ``SUISHEN_FACE_TOLERANCE``.

        :param checks_csv: comma list of ``blink``, ``colour``, ``turn``, ``match`` (case and spaces
            ignored; ``match`` is added if missing).
        :param tolerance: face distance at or under which the face matches the portrait.
        :raises ValueError: on an unknown check name or a tolerance outside (0, 1).
        """
        names = {part.strip().lower() for part in checks_csv.split(",") if part.strip()}
        return cls(checks=frozenset(names), tolerance=float(tolerance))


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class ChallengePlan:
    """What the page asks the user to do; chosen by the server, stored with the challenge.

    ``colours`` is a random permutation of the four COLOURS. A permutation (24 orders) rather than
    free sequences with no immediate repeat (108): every colour appears once, so every plan moves all
    three channels and has the same signal strength, and a replayed recording of one order passes the
    correlation threshold for 1 plan in 24; with free sequences the weakest plans (e.g. red, yellow,
    red, yellow) carry half the signal and a replay still matched up to 1 in 15.
    """

    colours: tuple[str, ...]
    blinks: int = BLINKS_ASKED
    turn: str | None = None
    frames_per_colour: int = FRAMES_PER_COLOUR

    def __post_init__(self) -> None:
        object.__setattr__(self, "colours", tuple(self.colours))
        if not self.colours or any(colour not in COLOUR_RGB for colour in self.colours):
            raise ValueError(f"unknown colour in plan: {self.colours!r}")
        if isinstance(self.blinks, bool) or not isinstance(self.blinks, int) or self.blinks < 0:
            raise ValueError(f"blinks must be a non-negative int, got {self.blinks!r}")
        if self.turn is not None and self.turn not in TURN_DIRECTIONS:
            raise ValueError(f"turn must be left, right or None, got {self.turn!r}")
        if (
            isinstance(self.frames_per_colour, bool)
            or not isinstance(self.frames_per_colour, int)
            or self.frames_per_colour < 1
        ):
            raise ValueError(f"frames_per_colour must be a positive int, got {self.frames_per_colour!r}")

    @property
    def colour_frame_count(self) -> int:
        """Colour-phase frames the page must send: ``len(colours) * frames_per_colour``."""
        return len(self.colours) * self.frames_per_colour

    def shown_colours(self) -> list[str]:
        """The colour on screen for each colour-phase frame, in capture order."""
        return [colour for colour in self.colours for _ in range(self.frames_per_colour)]

    def to_json(self) -> str:
        return json.dumps(
            {
                "colours": list(self.colours),
                "blinks": self.blinks,
                "turn": self.turn,
                "frames_per_colour": self.frames_per_colour,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, data: str | bytes | Mapping) -> ChallengePlan:
        """Rebuild a plan from :meth:`to_json` output (a JSON string or the decoded mapping).

        :raises ValueError: on malformed JSON or invalid values.
        """
        raw = json.loads(data) if isinstance(data, (str, bytes)) else data
        if not isinstance(raw, Mapping) or not isinstance(raw.get("colours"), list):
            raise ValueError("challenge plan must be an object with a colours list")
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in raw.items() if key in names})


def make_challenge_plan(rng: random.Random, policy: Policy | None = None) -> ChallengePlan:
    """Choose a new challenge at random.

    :param rng: pass ``random.SystemRandom()`` in production so plans cannot be predicted; tests pass
        a seeded ``random.Random``.
    :param policy: a turn direction is chosen only when ``"turn"`` is among ``policy.checks``.
    """
    colours = tuple(rng.sample(COLOURS, len(COLOURS)))
    turn = rng.choice(TURN_DIRECTIONS) if policy is not None and "turn" in policy.checks else None
    return ChallengePlan(colours=colours, blinks=BLINKS_ASKED, turn=turn, frames_per_colour=FRAMES_PER_COLOUR)


# --- Blink ----------------------------------------------------------------------------------------------
def _dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def eye_aspect_ratio(eye: Sequence[tuple[float, float]]) -> float:
    """Eye aspect ratio (Soukupová & Čech 2016) of the six dlib eye points p1…p6.

    ``(|p2−p6| + |p3−p5|) / (2·|p1−p4|)``: ~0.25–0.4 open, ~0.1–0.15 closed.

    :raises ValueError: unless exactly six points are given.
    """
    if len(eye) != 6:
        raise ValueError(f"an eye has 6 landmark points, got {len(eye)}")
    p1, p2, p3, p4, p5, p6 = eye
    width = _dist(p1, p4)
    if width == 0:
        return 0.0
    return (_dist(p2, p6) + _dist(p3, p5)) / (2.0 * width)


def mean_eye_aspect_ratio(landmarks: Mapping[str, Sequence[tuple[float, float]]]) -> float:
    """Mean EAR of both eyes from a ``face_recognition.face_landmarks`` dict."""
    return (eye_aspect_ratio(landmarks["left_eye"]) + eye_aspect_ratio(landmarks["right_eye"])) / 2.0


def blink_baseline(ears: Sequence[float]) -> float:
    """The session's open-eye EAR: the median, since a blink closes the eyes for only a few frames."""
    return float(statistics.median(ears)) if ears else 0.0


def count_blinks(ears: Sequence[float], policy: Policy = DEFAULT_POLICY) -> int:
    """Count complete blinks (open → closed → open again) in a session's per-frame EARs.

    Relative to the session's own baseline, because eye shape varies more between people than a blink
    moves it: narrow eyes are open at 0.22–0.29, wide ones at 0.31–0.38. A frame is closed at or below
    ``baseline * policy.blink_closed_ratio`` and open at or above ``baseline * policy.blink_open_ratio``;
    in between it keeps the previous state (hysteresis, so noise around one threshold is not a blink).
    A blink counts only once the eye has been seen open before it and open again after it.
    """
    baseline = blink_baseline(ears)
    if baseline <= 0:
        return 0
    closed_at = baseline * policy.blink_closed_ratio
    open_at = baseline * policy.blink_open_ratio
    blinks = 0
    state = None  # None until the eye has been seen open
    for ear in ears:
        if ear >= open_at:
            if state == "closed":
                blinks += 1
            state = "open"
        elif ear <= closed_at and state == "open":
            state = "closed"
    return blinks


# --- Colour ---------------------------------------------------------------------------------------------
def _colour_residuals(
    face_means: Sequence[Sequence[float]], shown: Sequence[str]
) -> tuple[list[list[float]], list[list[float]]]:
    """Observed and expected chroma shifts, both with the session mean and each frame's grey removed.

    Removing each frame's mean over R, G, B cancels the camera's auto-exposure (a bright flash makes
    the whole picture brighter); removing each channel's session mean cancels the skin colour.
    """
    if len(face_means) != len(shown):
        raise ValueError(f"{len(face_means)} face means for {len(shown)} shown colours")
    if any(colour not in COLOUR_RGB for colour in shown):
        raise ValueError(f"unknown colour in {list(shown)!r}")

    def centre(rows: list[list[float]]) -> list[list[float]]:
        rows = [[v - sum(row) / 3.0 for v in row] for row in rows]
        means = [sum(row[c] for row in rows) / len(rows) for c in range(3)]
        return [[row[c] - means[c] for c in range(3)] for row in rows]

    observed = centre([[float(v) for v in row[:3]] for row in face_means])
    expected = centre([[v / 255.0 for v in COLOUR_RGB[colour]] for colour in shown])
    return observed, expected


def colour_correlation(face_means: Sequence[Sequence[float]], shown: Sequence[str]) -> float:
    """How well the face-area colour follows the flashed colours: Pearson correlation in [-1, 1].

    :param face_means: mean (R, G, B) of the face area in each colour-phase frame.
    :param shown: the colour on screen for each of those frames (``ChallengePlan.shown_colours()``).
    :returns: 0.0 when either side does not vary (a flat face or a single colour).
    :raises ValueError: on a length mismatch or an unknown colour.
    """
    if not shown:
        return 0.0
    observed, expected = _colour_residuals(face_means, shown)
    dot = sum(o * e for ro, re_ in zip(observed, expected) for o, e in zip(ro, re_))
    norm_o = math.sqrt(sum(o * o for row in observed for o in row))
    norm_e = math.sqrt(sum(e * e for row in expected for e in row))
    if norm_o < 1e-9 or norm_e < 1e-9:
        return 0.0
    return max(-1.0, min(1.0, dot / (norm_o * norm_e)))


def colour_amplitude(face_means: Sequence[Sequence[float]], shown: Sequence[str]) -> float:
    """Least-squares gain of the face's chroma shifts on the shown colours, in 0–255 levels per
    full-scale screen colour (negative if it moves the wrong way).

    Correlation alone is scale-free: sensor noise can line up with four colours by chance, so the
    shift must also be big enough to be light rather than noise.
    """
    if not shown:
        return 0.0
    observed, expected = _colour_residuals(face_means, shown)
    dot = sum(o * e for ro, re_ in zip(observed, expected) for o, e in zip(ro, re_))
    energy = sum(e * e for row in expected for e in row)
    return dot / energy if energy > 1e-12 else 0.0


def colour_passes(correlation: float, amplitude: float, policy: Policy = DEFAULT_POLICY) -> bool:
    return correlation >= policy.colour_min_correlation and amplitude >= policy.colour_min_amplitude


# --- Turn -----------------------------------------------------------------------------------------------
def yaw_ratio(landmarks: Mapping[str, Sequence[tuple[float, float]]]) -> float:
    """Horizontal offset of the nose tip from the middle of the jaw, in jaw widths (about −0.5…0.5).

    0 faces the camera. Positive means the nose moved towards the *image's* right, which in an
    unmirrored camera frame is the user turning to *their* left. Uses the 68-point ``chin`` contour
    (its ends are the jaw at the ears) and the last ``nose_bridge`` point (the nose tip).
    """
    chin = landmarks["chin"]
    left, right = chin[0][0], chin[-1][0]
    width = right - left
    if width == 0:
        return 0.0
    nose = landmarks["nose_bridge"][-1][0]
    return (nose - (left + right) / 2.0) / width


def turn_shift(yaws: Sequence[float], direction: str) -> float:
    """How far the nose moved the asked way from its starting position, in jaw widths (≤ 0: not at all).

    The start is the median yaw of the first ``TURN_START_FRAMES`` frames.

    :param direction: ``"left"`` or ``"right"`` from the user's point of view (see :func:`yaw_ratio`).
    :raises ValueError: on another direction.
    """
    if direction not in TURN_DIRECTIONS:
        raise ValueError(f"unknown turn direction {direction!r}")
    if not yaws:
        return 0.0
    sign = 1.0 if direction == "left" else -1.0
    start = statistics.median(yaws[:TURN_START_FRAMES])
    return max(sign * (y - start) for y in yaws)


def turn_done(yaws: Sequence[float], direction: str, policy: Policy = DEFAULT_POLICY) -> bool:
    """Did the user turn their head the asked way far enough? (see :func:`turn_shift`)"""
    return turn_shift(yaws, direction) >= policy.turn_min_yaw


# --- Light -----------------------------------------------------------------------------------------------
def luma(rgb: Sequence[float]) -> float:
    """Rec. 601 luma of an (R, G, B) mean, 0–255."""
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def too_dark(face_lumas: Sequence[float], policy: Policy = DEFAULT_POLICY) -> bool:
    """True when the median face luma of the session is under ``policy.min_face_luma``."""
    return bool(face_lumas) and statistics.median(face_lumas) < policy.min_face_luma



# --- The decision queue --------------------------------------------------------------------------------
def expected_wait(waiting: int, seconds_per_decision: float, workers: int) -> float:
    """Seconds until a submission joining ``waiting`` others (queued or being decided) would be decided.

    >>> expected_wait(0, 1.5, 2)
    1.5
    >>> expected_wait(6, 1.5, 2)
    6.0
    """
    workers = max(1, workers)
    return (waiting // workers + 1) * max(0.0, seconds_per_decision)
