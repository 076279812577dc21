"""Rules of 实人核验 (liveness + face match): reason codes, thresholds and pure scoring functions.

Nothing here does I/O or touches images: the engine (``engine.py``) turns camera frames into numbers
(eye aspect ratios, face-area colour means, nose positions, face distances) and these functions decide
what the numbers mean. Every threshold is a named constant with its unit, and every one of them was
measured on the real sequences in ``shared/testdata`` (see ``bench/liveness_eval.py``).
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import timedelta

import numpy as np

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
FLASH_TIMING = "flash_timing"
LIGHT_IMPLAUSIBLE = "light_implausible"
FLAT_FACE = "flat_face"
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
    FLASH_TIMING: _l("炫彩过程中断或画面时间不一致，请在核验完成前保持本页在前台、网络畅通，然后重试。"),
    LIGHT_IMPLAUSIBLE: _l("屏幕反光不像真人面部，请让面部靠近屏幕（约一臂距离内）、避开强光，闪烁时保持不动，然后重试。"),
    FLAT_FACE: _l("未检测到立体人脸，请本人按提示缓慢转头，再转回正面，然后重试。"),
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
#: Frames the page captures in each flash step, and when: milliseconds after it painted the step's colour. The
#: first is grabbed at once (the camera cannot show the new light yet: a frame is exposed 40-250 ms before the page
#: draws it), the others once the light has settled.
CAPTURE_AGES_MS: tuple[int, ...] = (0, 150, 300, 450)
FRAMES_PER_COLOUR = len(CAPTURE_AGES_MS)
#: How long each step is shown, chosen at random per step from these (ms) and revealed with its colour, so a
#: recording of another session cannot line up with this one's step changes.
HOLD_CHOICES_MS: tuple[int, ...] = tuple(range(550, 1001, 50))
#: Blinks asked for by a challenge.
BLINKS_ASKED = 1
TURN_DIRECTIONS: tuple[str, ...] = ("left", "right")
TURN_NAMES: dict[str, str] = {"left": _l("向左"), "right": _l("向右")}

# --- Frames (what the server accepts) ---------------------------------------------------------------
#: Fewest blink-phase frames: ~1 s at 10 fps, the shortest span that can hold open → closed → open.
MIN_FRAMES = 10
#: Most frames in one submission (blink + colour): ~3 s of blink at 8–10 fps plus 16 colour frames.
MAX_FRAMES = 48
#: The page's capture: blink phase 2 s, turn 1.5 s, at 8 frames per second (16 + 12 frames), then the flash steps
#: (16 frames): 44, under MAX_FRAMES.
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

# --- Flash timing, reflected light, depth (issue 15; tuned by bench/liveness_eval.py on its training half) ------
#: The page reports its own clock; the server's reveal of step k happened between the page sending the request and
#: receiving the answer, so each step bounds the clock offset. The bounds of all steps must agree within this
#: slack (ms); a page that reports times that do not fit its own requests is refused.
CLOCK_SLACK_MS = 50.0
#: Longest round trip of one step request, and longest delay between receiving a colour and painting it (ms).
MAX_STEP_ROUND_TRIP_MS = 5000.0
MAX_PAINT_DELAY_MS = 300.0
#: The server saw the step requests this far apart at least: hold of the previous step minus this slack (ms). A
#: script that asks for every colour at once (to know the plan before capturing) cannot meet it.
PACING_SLACK_MS = 100.0
#: The first frame of a step must be grabbed within this of painting it (it shows the light *before* the change);
#: the frames counted for the colour are those grabbed this long after painting, once the light has settled.
BOUNDARY_MS = 60.0
STEADY_AFTER_MS = 250.0
#: Reflected light, "starts with each step": the step's first frame (grabbed as the colour is painted) sits at
#: this fraction, or less, of the way from the previous step's light to this step's (median over steps 2..n). A
#: real camera cannot show light that was painted a few ms ago; an injector that tints on the reveal can.
LIGHT_MAX_ONSET = 0.5
#: Reflected light falls off with distance: the background's chroma gain against the face's, measured both in
#: levels and relative to each region's brightness, must stay under this. A uniform tint of the whole frame has
#: a ratio near 1 in one of the two measures whatever the background.
LIGHT_MAX_BACKGROUND_RATIO = 0.45
#: Background pixels counted: outside the face box grown by this many box widths, above the chin, neither clipped
#: nor black; fewer than LIGHT_MIN_BACKGROUND_SHARE of the frame and the background is not judged.
LIGHT_BACKGROUND_MARGIN = 0.5
LIGHT_MIN_BACKGROUND_SHARE = 0.05
#: Eyes at least this wide (corner to corner, pixels) must show the flash too: the chroma of windows around them
#: correlates with the revealed colours at least this much. A measure of the catch light itself (the eyes' relative
#: gain against the skin's, kept as the score ``light_eye_ratio``) did not separate genuine close-ups (1.08-2.2)
#: from a face-only tint (0.94-1.24) on the training half at 640x480, so it is not enforced; the correlation refuses
#: eyes that do not follow the light (a tint or a pasted face that spares them).
LIGHT_EYE_MIN_WIDTH = 40.0
LIGHT_MIN_EYE_CORRELATION = 0.5
#: A face is not a plane: during the asked head turn, the landmarks' motion (jaw, brows, nose) must leave at least
#: this residual after the best homography from the frontal frame, in inter-ocular distances (median of the three
#: most turned frames). A photo or screen, however tilted, moves as a plane: only the landmark noise remains.
DEPTH_MIN_RESIDUAL = 0.04
#: Landmarks that move with the skull (jaw contour, brows, nose), not with blinking or speaking.
RIGID_LANDMARKS: tuple[int, ...] = tuple(range(36))

CHECKS: frozenset[str] = frozenset({"blink", "colour", "reflection", "turn", "depth", "match"})
#: ``reflection`` needs ``colour`` (it judges the flash's light); ``depth`` needs a turn (the plan asks for one).
DEFAULT_CHECKS_SETTING = "blink,turn,colour,reflection,depth,match"


@dataclass(frozen=True)
class Policy:
    """Which checks a deployment requires and the thresholds they use.

    ``match`` is always forced into ``checks``: liveness without the face match proves nothing.
    """

    checks: frozenset[str] = frozenset({"blink", "turn", "colour", "reflection", "depth", "match"})
    tolerance: float = DEFAULT_TOLERANCE
    same_person_tolerance: float = SAME_PERSON_TOLERANCE
    blink_closed_ratio: float = BLINK_CLOSED_RATIO
    blink_open_ratio: float = BLINK_OPEN_RATIO
    colour_min_correlation: float = COLOUR_MIN_CORRELATION
    colour_min_amplitude: float = COLOUR_MIN_AMPLITUDE
    min_face_luma: float = MIN_FACE_LUMA
    turn_min_yaw: float = TURN_MIN_YAW
    light_max_onset: float = LIGHT_MAX_ONSET
    light_max_background_ratio: float = LIGHT_MAX_BACKGROUND_RATIO
    light_min_eye_correlation: float = LIGHT_MIN_EYE_CORRELATION
    depth_min_residual: float = DEPTH_MIN_RESIDUAL

    def __post_init__(self) -> None:
        checks = frozenset(self.checks)
        unknown = checks - CHECKS
        if unknown:
            raise ValueError(f"unknown liveness check(s): {', '.join(sorted(unknown))}")
        if "reflection" in checks and "colour" not in checks:
            raise ValueError("the liveness check reflection needs colour (it judges the flash's light)")
        # frozen dataclass: the forced "match" has to be written past the frozen __setattr__.
        object.__setattr__(self, "checks", checks | {"match"})
        if not 0.0 < self.tolerance < 1.0:
            raise ValueError(f"face tolerance must be between 0 and 1, got {self.tolerance}")
        if not 0.0 < self.blink_closed_ratio < self.blink_open_ratio <= 1.0:
            raise ValueError("blink ratios must satisfy 0 < closed < open <= 1")

    @property
    def asks_turn(self) -> bool:
        """The plan must ask for a head turn: the turn itself, or the depth check that is measured during it."""
        return bool({"turn", "depth"} & self.checks)

    @classmethod
    def from_setting(cls, checks_csv: str, tolerance: float = DEFAULT_TOLERANCE) -> Policy:
        """Build the policy from ``SUISHEN_LIVENESS_CHECKS`` and ``SUISHEN_FACE_TOLERANCE``.

        :param checks_csv: comma list of ``blink``, ``turn``, ``colour``, ``reflection``, ``depth``, ``match`` (case
            and spaces ignored; ``match`` is added if missing).
        :param tolerance: face distance at or under which the face matches the portrait.
        :raises ValueError: on an unknown check name, ``reflection`` without ``colour``, or a tolerance outside
            (0, 1).
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
    #: How long each colour is shown (ms), one per colour; revealed step by step with the colour.
    holds_ms: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "colours", tuple(self.colours))
        holds = tuple(self.holds_ms) or (HOLD_CHOICES_MS[0],) * len(self.colours)
        object.__setattr__(self, "holds_ms", holds)
        if len(holds) != len(self.colours) or any(
            isinstance(h, bool) or not isinstance(h, int) or not 0 < h <= 10_000 for h in holds
        ):
            raise ValueError(f"holds_ms must give each colour a duration in ms, got {self.holds_ms!r}")
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
                "holds_ms": list(self.holds_ms),
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
        values = {key: value for key, value in raw.items() if key in names}
        if "holds_ms" in values and not isinstance(values["holds_ms"], list):
            raise ValueError("holds_ms must be a list")
        return cls(**values)

    def step(self, index: int) -> dict:
        """What the page is told when it reaches flash step ``index`` (and nothing about the later ones)."""
        colour = self.colours[index]
        return {"step": index, "steps": len(self.colours), "colour": colour, "name": COLOUR_NAMES[colour],
                "rgb": list(COLOUR_RGB[colour]), "hold_ms": self.holds_ms[index]}


def make_challenge_plan(rng: random.Random, policy: Policy | None = None) -> ChallengePlan:
    """Choose a new challenge at random.

    :param rng: pass ``random.SystemRandom()`` in production so plans cannot be predicted; tests pass
        a seeded ``random.Random``.
    :param policy: a turn direction is chosen only when the policy has ``turn`` or ``depth``.
    """
    colours = tuple(rng.sample(COLOURS, len(COLOURS)))
    turn = rng.choice(TURN_DIRECTIONS) if policy is not None and policy.asks_turn else None
    holds = tuple(rng.choice(HOLD_CHOICES_MS) for _ in colours)
    return ChallengePlan(colours=colours, blinks=BLINKS_ASKED, turn=turn, frames_per_colour=FRAMES_PER_COLOUR,
                         holds_ms=holds)


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



# --- Flash timing (the plan revealed step by step) --------------------------------------------------------------
@dataclass(frozen=True)
class FlashStep:
    """What the page reports of one revealed flash step, in its own clock (ms): when it sent the request, received
    the colour, and painted it."""

    sent_ms: float
    received_ms: float
    painted_ms: float


@dataclass(frozen=True)
class FlashTimeline:
    """The colour frames placed on the flash steps: ``ages_ms[i]`` is how long after its step was painted frame i
    was grabbed (page clock); ``problem`` says why the times cannot be trusted (None when they fit)."""

    ages_ms: tuple[float, ...] = ()
    offset_ms: float | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def steady(self, index: int) -> bool:
        return self.ages_ms[index] >= STEADY_AFTER_MS

    def boundary(self, index: int) -> bool:
        return self.ages_ms[index] < BOUNDARY_MS


def _finite(*values: object) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def flash_timeline(plan: ChallengePlan, reveals_ms: Sequence[float], steps: Sequence[FlashStep],
                   frame_ms: Sequence[float], submitted_ms: float) -> FlashTimeline:
    """Check the page's capture times against the flash steps the server revealed, and place each colour frame.

    :param reveals_ms: when the server revealed each step (its own clock, epoch ms).
    :param steps: the page's report of each step (:class:`FlashStep`, page clock).
    :param frame_ms: when the page grabbed each colour frame (page clock), ``plan.frames_per_colour`` per step in
        step order.
    :param submitted_ms: when the server received the frames (its clock).

    The server knows only its own instants; everything else is the page's word, so the check is that the page's
    word fits them: the clock offset implied by each step's round trip agrees (``CLOCK_SLACK_MS``), the server saw
    the steps asked for no faster than they are held (``PACING_SLACK_MS``: no colour is known before its step), each
    step's first frame is grabbed as it is painted (``BOUNDARY_MS``) and its last before the next step, and every
    frame before the submission.
    """
    n = len(plan.colours)

    def bad(problem: str) -> FlashTimeline:
        return FlashTimeline(problem=problem)

    if len(reveals_ms) != n or len(steps) != n:
        return bad(f"{len(reveals_ms)} steps revealed, {len(steps)} reported, {n} planned")
    if len(frame_ms) != plan.colour_frame_count:
        return bad(f"{len(frame_ms)} frame times for {plan.colour_frame_count} frames")
    if not _finite(submitted_ms, *reveals_ms, *frame_ms, *(v for st in steps for v in
                                                             (st.sent_ms, st.received_ms, st.painted_ms))):
        return bad("times must be finite numbers")
    low, high = -math.inf, math.inf
    for reveal, step in zip(reveals_ms, steps):
        if not 0 <= step.received_ms - step.sent_ms <= MAX_STEP_ROUND_TRIP_MS:
            return bad("a step's round trip is negative or too long")
        if not 0 <= step.painted_ms - step.received_ms <= MAX_PAINT_DELAY_MS:
            return bad("a step was painted before it was received, or too late")
        low, high = max(low, reveal - step.received_ms), min(high, reveal - step.sent_ms)
    if low > high + CLOCK_SLACK_MS:
        return bad(f"the page's times disagree with the server's by {low - high:.0f} ms")
    offset = (low + high) / 2
    for k in range(1, n):
        if reveals_ms[k] - reveals_ms[k - 1] < plan.holds_ms[k - 1] - PACING_SLACK_MS:
            return bad(f"step {k + 1} was asked for {reveals_ms[k] - reveals_ms[k - 1]:.0f} ms after step {k}, "
                       f"which is held {plan.holds_ms[k - 1]} ms")
    ages: list[float] = []
    per = plan.frames_per_colour
    for i, t in enumerate(frame_ms):
        k = i // per
        age = t - steps[k].painted_ms
        if i % per == 0 and not 0 <= age < BOUNDARY_MS:
            return bad(f"step {k + 1}'s first frame was grabbed {age:.0f} ms after painting")
        if i % per and age <= ages[-1]:
            return bad("frame times do not increase")
        end = steps[k + 1].painted_ms if k + 1 < n else steps[k].painted_ms + plan.holds_ms[k] + PACING_SLACK_MS
        if t >= end:
            return bad(f"a frame of step {k + 1} was grabbed after the step ended")
        ages.append(age)
    if frame_ms[-1] + offset > submitted_ms + CLOCK_SLACK_MS:
        return bad("a frame was grabbed after the frames were received")
    if any(sum(1 for a in ages[k * per:(k + 1) * per] if a >= STEADY_AFTER_MS) < 1 for k in range(n)):
        return bad("a step has no frame grabbed after the light settled")
    return FlashTimeline(ages_ms=tuple(ages), offset_ms=offset)


# --- Reflected light -------------------------------------------------------------------------------------------
def chroma(rgb: Sequence[float]) -> list[float]:
    """An (R, G, B) mean without its grey: what a coloured light adds, whatever the exposure."""
    grey = sum(rgb[:3]) / 3.0
    return [float(v) - grey for v in rgb[:3]]


def relative(rgb: Sequence[float]) -> list[float]:
    """An (R, G, B) mean scaled to luma 100: light reflected by a surface is proportional to its albedo, so on this
    scale a dark and a bright surface lit alike move alike."""
    scale = 100.0 / max(luma(rgb), 10.0)
    return [float(v) * scale for v in rgb[:3]]


def light_onset(means: Sequence[Sequence[float]], steps: Sequence[int], timeline: FlashTimeline) -> float:
    """How far each step's first frame (grabbed as the colour was painted) already moved from the previous step's
    light towards the new one: 0 = not at all (what a camera shows), 1 = all the way. Median over steps 2..n.

    :param means: face-area (R, G, B) mean of each colour frame; ``steps[i]`` is the step of frame i.
    """
    if not timeline.ages_ms:
        return math.inf
    n = max(steps) + 1
    steady: list[list[float] | None] = []
    for k in range(n):
        rows = [chroma(m) for i, m in enumerate(means) if steps[i] == k and timeline.steady(i)]
        steady.append([sum(r[c] for r in rows) / len(rows) for c in range(3)] if rows else None)
    onsets = []
    for k in range(1, n):
        first = next((i for i, s in enumerate(steps) if s == k and timeline.boundary(i)), None)
        before, after = steady[k - 1], steady[k]
        if first is None or before is None or after is None:
            continue
        direction = [a - b for a, b in zip(after, before)]
        energy = sum(d * d for d in direction)
        if energy < 1e-9:
            continue
        seen = [v - b for v, b in zip(chroma(means[first]), before)]
        onsets.append(sum(s * d for s, d in zip(seen, direction)) / energy)
    return float(statistics.median(onsets)) if onsets else math.inf


def light_gain(means: Sequence[Sequence[float]], shown: Sequence[str], *, scaled: bool) -> float:
    """Chroma gain of a region on the shown colours (:func:`colour_amplitude`), in levels or, ``scaled``, at luma
    100 (:func:`relative`)."""
    rows = [relative(m) for m in means] if scaled else [list(m) for m in means]
    return colour_amplitude(rows, shown)


def background_ratio(face: Sequence[Sequence[float]], background: Sequence[Sequence[float]],
                     shown: Sequence[str]) -> float:
    """The background's gain on the shown colours against the face's, the larger of the two measures (levels, and
    at luma 100). Real screen light: small (the background is far). A uniform tint: ~1 in one of them."""
    ratios = []
    for scaled in (False, True):
        face_gain = light_gain(face, shown, scaled=scaled)
        if face_gain <= 1e-6:
            return math.inf
        ratios.append(max(0.0, light_gain(background, shown, scaled=scaled)) / face_gain)
    return max(ratios)


def eye_ratio(face: Sequence[Sequence[float]], eyes: Sequence[Sequence[float]], shown: Sequence[str]) -> float:
    """The eyes' relative chroma gain against the skin's: a catch light of the screen makes it well above 1."""
    face_gain = light_gain(face, shown, scaled=True)
    if face_gain <= 1e-6:
        return 0.0
    return light_gain(eyes, shown, scaled=True) / face_gain


def light_passes(onset: float, background: float | None, eyes: float | None, policy: Policy = DEFAULT_POLICY) -> bool:
    """Reflected light is plausible: it started with the steps, the background took far less of it, and the eyes
    (when large enough to measure: ``eyes`` is their colour correlation with the flash) followed it."""
    return (onset <= policy.light_max_onset
            and (background is None or background <= policy.light_max_background_ratio)
            and (eyes is None or eyes >= policy.light_min_eye_correlation))


# --- Depth: a face is not a plane --------------------------------------------------------------------------------
def _normalise(points):
    centre = points.mean(axis=0)
    scale = math.sqrt(2) / max(float(np.sqrt(((points - centre) ** 2).sum(axis=1)).mean()), 1e-9)
    t = np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])
    return t, (points - centre) * scale


def homography(src, dst):
    """The 3x3 homography that best maps ``src`` points onto ``dst`` (normalised DLT, least squares)."""
    src, dst = np.asarray(src, dtype=float), np.asarray(dst, dtype=float)
    ts, s = _normalise(src)
    td, d = _normalise(dst)
    rows = []
    for (x, y), (u, v) in zip(s, d):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = vt[-1].reshape(3, 3)
    h = np.linalg.inv(td) @ h @ ts
    return h / h[2, 2] if abs(h[2, 2]) > 1e-12 else h


def planar_residual(reference, points) -> float:
    """RMS distance (in inter-ocular distances of ``reference``) between ``points`` and the reference landmarks
    moved by the best homography: ~landmark noise when both are pictures of one plane, more when the face turned.

    :param reference: 68 (x, y) landmarks of the frontal frame; ``points`` the same of another frame.
    """
    ref, pts = np.asarray(reference, dtype=float), np.asarray(points, dtype=float)
    idx = list(RIGID_LANDMARKS)
    h = homography(ref[idx], pts[idx])
    ones = np.hstack([ref[idx], np.ones((len(idx), 1))])
    mapped = ones @ h.T
    mapped = mapped[:, :2] / mapped[:, 2:3]
    eyes = np.linalg.norm(ref[36:42].mean(axis=0) - ref[42:48].mean(axis=0))
    return float(np.sqrt(((mapped - pts[idx]) ** 2).sum(axis=1).mean()) / max(eyes, 1e-9))


def depth_passes(residual: float, policy: Policy = DEFAULT_POLICY) -> bool:
    return residual >= policy.depth_min_residual


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


# --- Failed tries: whose they are (issue 16) ------------------------------------------------------------------
# A failed 实人核验 belongs to a *party*: the signed-in account of the citizen being checked ("user:<id>"), or else
# the browser it was tried in ("device:<digest of a long-lived random cookie>"). The person in front of the camera
# is told of, and stopped by, only their own party's failures; a stranger trying someone's identity elsewhere never
# makes the holder read "您已连续 3 次未通过". Against that stranger the cap still holds across devices: clearing
# cookies makes a new device, so the failures of every anonymous device count together against a device that is
# not the holder's. The holder's are their signed-in account (one per citizen) and a device where this citizen
# passed 实人核验 within TRUSTED_DEVICE_MEMORY; only their own failures stop those.
PARTY_USER = "user:"
PARTY_DEVICE = "device:"
#: A device where the citizen passed 实人核验 this recently is the holder's (a phone kept for a few years, asked
#: for 实人核验 every few weeks or months).
TRUSTED_DEVICE_MEMORY = timedelta(days=180)
#: Why a new challenge is refused: this party failed too often, or (a device not the holder's) the anonymous
#: devices together did.
FAILED_HERE = "here"
FAILED_ELSEWHERE = "elsewhere"
FAILED_ELSEWHERE_MESSAGE = _l("近 1 小时内，该身份信息在其他设备上未通过人脸核验的次数过多（并非本设备上的操作）。"
                              "为保护您的身份，暂停在新设备上核验：请在曾经核验通过的设备上办理、登录本人账号后办理，"
                              "或稍后再试、改用其他方式办理。")


def user_party(user_id: int) -> str:
    return f"{PARTY_USER}{user_id}"


def device_party(device_token: str) -> str:
    """The stored party of a browser: a digest of its cookie (the cookie itself is a bearer value, never stored)."""
    return PARTY_DEVICE + hashlib.sha256(device_token.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class FailureCount:
    """Failed tries of one citizen and purpose in the window, seen from one party."""

    here: int            # this party's own failures: what the person in front of the camera is told
    elsewhere: int = 0   # anonymous devices other than this party (a stranger's, or the holder's on another phone)
    trusted: bool = True  # this party is the holder's (their account, or a device they passed on)


def failure_refusal(count: FailureCount, max_failures: int) -> str | None:
    """FAILED_HERE, FAILED_ELSEWHERE or None (a new challenge may start). ``max_failures`` 0 means no cap.

    >>> failure_refusal(FailureCount(here=0, elsewhere=5, trusted=True), 3) is None
    True
    >>> failure_refusal(FailureCount(here=1, elsewhere=2, trusted=False), 3)
    'elsewhere'
    """
    if not max_failures:
        return None
    if count.here >= max_failures:
        return FAILED_HERE
    if not count.trusted and count.here + count.elsewhere >= max_failures:
        return FAILED_ELSEWHERE
    return None


def failure_message(refusal: str, count: FailureCount) -> str:
    if refusal == FAILED_HERE:
        return _l("您已连续 %(failures)s 次未通过人脸核验。可改用其他方式办理，或稍后再试。", failures=count.here)
    return FAILED_ELSEWHERE_MESSAGE
