"""Genuine-like and attack 实人核验 sessions, generated from the still photos of ``shared/testdata`` (issue 15).

Every genuine sequence in ``shared/testdata`` is itself a warped still photo, so it cannot tell a living face from
an animated photo. This module builds whole sessions (blink phase, head turn, flash steps with the page's capture
times and the server's reveal times) that can:

* **genuine**: a head modelled in 3-D (an ellipsoid with a nose, fitted to the photo's 68 landmarks) turns and
  sways in front of a still background (parallax), blinks (the shared eyelid frames), and the screen's light falls
  on it as light does: proportional to the skin's albedo, strongest on the face, fading towards its edges, a few
  per cent on the far background, a catch light of the screen's colour in each eye, arriving 60-250 ms after the
  page painted it (camera latency and exposure); sensor noise and JPEG on top. Conditions: ``still``,
  ``natural`` (more motion), ``weak_light`` (a bright room), ``close`` (face 1.35x larger), ``slow_camera``
  (long latency, slow network).
* **attacks**, one species each: ``printed_photo``, ``screen_photo``, ``replay_video`` (a recorded genuine session
  of another plan on a screen), ``animated_still`` (the still with warped eyelids, injected, the face tinted with
  each revealed colour; ``animated_still_close``: the same 1.35x larger, eyes big enough for the catch-light
  check), ``uniform_tint`` (the same, the whole frame tinted: issue 15's attack), ``early_tint`` (a
  3-D face injected, tinted the moment a colour is revealed), ``another_person``, ``face_swap`` (another person's
  live head with the victim's face pasted over it, as a 2-D swap does).

Nothing is copied into the repository: :func:`sample` builds a session from the shared files in memory, and
:func:`cached_sample` keeps it in a cache folder (``SUISHEN_LIVENESS_CACHE``, default ``~/.cache/suishen``).
Each session is fixed by (kind, identity, index); even indices are the training half, odd ones the held-out half.

Run ``python -m tests.liveness_data OUT KIND [IDENTITY] [INDEX]`` to write one session's frames as JPEG files to
look at.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import math
import os
import pickle
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from tests.testdata import SEQUENCES
from webapp.proofing import rules
from webapp.proofing.rules import ChallengePlan, FlashStep

#: Bump when the generator changes: the cache is keyed on it.
VERSION = 4
GENUINE = ("still", "natural", "weak_light", "close", "slow_camera")
ATTACKS = ("printed_photo", "screen_photo", "replay_video", "animated_still", "animated_still_close", "uniform_tint",
           "early_tint", "another_person", "face_swap")
#: The capable injector: a 3-D face with light, catch lights and latency as a camera has them. It is what the
#: genuine generator makes, so no check of this engine can refuse it (docs/liveness.md: what a browser cannot stop).
CAPABLE = ("capable_injector",)
IDENTITIES = ("s001", "obama", "s029")
#: Registry portrait of each identity (another photo than the one the frames come from).
PORTRAITS = {"s001": "meds-aa-S001-02.jpg", "obama": "obama.jpg", "s029": "meds-aa-S029-01.jpg"}
#: Another person, for the identity-changing attacks (whose frames then stand for the victim's portrait).
OTHER = {"s001": "s029", "obama": "s001", "s029": "obama"}
BLINK_FRAMES, TURN_FRAMES, FRAME_MS = 16, 12, 125
WIDTH, HEIGHT = 640, 480
WHITE = (1.0, 1.0, 1.0)


@dataclasses.dataclass
class Sample:
    """One generated session: what the page would send and what the server would know."""

    kind: str
    identity: str
    index: int
    portrait: str  # file in shared/testdata/faces matched against
    genuine: bool
    plan: ChallengePlan
    blink: list[bytes]  # JPEG frames of the blink phase then the turn
    colour: list[bytes]  # JPEG frames of the flash steps
    reveals_ms: list[float]  # server clock
    steps: list[FlashStep]  # page clock
    frame_ms: list[float]  # page clock, one per colour frame
    submitted_ms: float  # server clock
    meta: dict

    @property
    def half(self) -> str:
        return "train" if self.index % 2 == 0 else "test"

    def timeline(self) -> rules.FlashTimeline:
        return rules.flash_timeline(self.plan, self.reveals_ms, self.steps, self.frame_ms, self.submitted_ms)


# --- The shared photos ----------------------------------------------------------------------------------------
def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)


@functools.cache
def base(identity: str) -> tuple[dict[float, np.ndarray], np.ndarray]:
    """Eyelid level (0 open ... 1 closed) -> 640x480 frame of the identity's still, and the open frame's 68
    landmarks as an array of (x, y)."""
    if identity == "s029":  # frames of wrong_person_blink: 1 open, 9 half, 10 closed (fixtures.json)
        folder = SEQUENCES / "frames_wrong_person_blink"
        levels = {0.0: _rgb(folder / "0001.jpg"), 0.5: _rgb(folder / "0009.jpg"), 1.0: _rgb(folder / "0010.jpg")}
    else:
        folder = SEQUENCES / f"frames_eyelid_levels_{'meds_s001' if identity == 's001' else identity}"
        levels = {lvl: _rgb(folder / f"{i:04d}.jpg") for i, lvl in enumerate((0.0, 0.25, 0.5, 0.75, 1.0), 1)}
    return levels, landmarks(levels[0.0])


def landmarks(image: np.ndarray) -> np.ndarray:
    """dlib's 68 landmarks of the one face in ``image``, as (x, y) rows."""
    from face_recognition import api

    frame = np.ascontiguousarray(image.astype(np.uint8))
    rect = api.face_detector(frame, 1)[0]
    shape = api.pose_predictor_68_point(frame, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def zoomed(identity: str, factor: float) -> tuple[dict[float, np.ndarray], np.ndarray]:
    """The identity's frames enlarged ``factor`` times about the face (a user closer to the camera)."""
    levels, lm = base(identity)
    if factor == 1.0:
        return levels, lm
    cx, cy = lm[:17, 0].mean(), lm[27:36, 1].mean()
    w, h = WIDTH / factor, HEIGHT / factor
    left = float(np.clip(cx - w / 2, 0, WIDTH - w))
    top = float(np.clip(cy - h / 2, 0, HEIGHT - h))
    box = (left, top, left + w, top + h)
    out = {k: np.asarray(Image.fromarray(v.astype(np.uint8)).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC,
                                                                      box=box), dtype=np.float32)
           for k, v in levels.items()}
    return out, (lm - [left, top]) * factor


def level_frame(levels: dict[float, np.ndarray], level: float) -> np.ndarray:
    return levels[min(levels, key=lambda k: abs(k - level))]


# --- A head in 3-D --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Head:
    """An ellipsoid with a nose, fitted to a frontal face's landmarks (image pixels; z towards the camera)."""

    cx: float
    cy: float
    a: float  # half the jaw width
    b: float
    nose_x: float
    nose_y: float

    @classmethod
    def fit(cls, lm: np.ndarray) -> Head:
        a = (lm[16, 0] - lm[0, 0]) / 2
        return cls(cx=(lm[0, 0] + lm[16, 0]) / 2, cy=float(lm[29, 1]), a=float(a), b=1.35 * float(a),
                   nose_x=float(lm[30, 0]), nose_y=float(lm[27:31, 1].mean()))

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = (x - self.cx) / self.a, (y - self.cy) / self.b
        # A paraboloid and a nose: gentle enough slopes that a 30 degree turn folds nothing over.
        z = 0.7 * self.a * np.clip(1 - u * u - v * v, 0, None)
        return z + 0.35 * self.a * np.exp(-((x - self.nose_x) ** 2 / (2 * (0.25 * self.a) ** 2)
                                            + (y - self.nose_y) ** 2 / (2 * (0.4 * self.a) ** 2)))

    def weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """How much a pixel moves with the head: 1 on the head and hair, 0 on the background."""
        u, v = (x - self.cx) / (1.3 * self.a), (y - self.cy + 0.25 * self.b) / (1.45 * self.b)
        r = np.sqrt(u * u + v * v)
        return np.clip((1.3 - r) / 0.55, 0, 1) ** 1.5

    def face_light(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Share of the screen's light the skin gets: 1 where it faces the screen, less towards the edges."""
        u, v = (x - self.cx) / (1.05 * self.a), (y - self.cy + 0.1 * self.b) / (1.1 * self.b)
        r = np.sqrt(u * u + v * v)
        return np.clip((1.1 - r) / 0.25, 0, 1) * (0.7 + 0.3 * np.sqrt(np.clip(1 - r * r, 0, 1)))


@dataclasses.dataclass(frozen=True)
class Pose:
    yaw: float = 0.0  # radians; > 0 moves the nose to the image's right (the user's left)
    pitch: float = 0.0
    roll: float = 0.0
    tx: float = 0.0
    ty: float = 0.0
    scale: float = 1.0


def _rotation(pose: Pose) -> np.ndarray:
    cy, sy = math.cos(pose.yaw), math.sin(pose.yaw)
    cp, sp = math.cos(pose.pitch), math.sin(pose.pitch)
    cr, sr = math.cos(pose.roll), math.sin(pose.roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def _displacement(head: Head, pose: Pose, x: np.ndarray, y: np.ndarray, planar: bool) -> tuple[np.ndarray, ...]:
    z = np.zeros_like(x) if planar else head.depth(x, y)
    X, Y = x - head.cx, y - head.cy
    r = _rotation(pose)
    xr = r[0, 0] * X + r[0, 1] * Y + r[0, 2] * z
    yr = r[1, 0] * X + r[1, 1] * Y + r[1, 2] * z
    zr = r[2, 0] * X + r[2, 1] * Y + r[2, 2] * z
    d = 4.5 * head.a  # camera distance: a phone at ~30 cm
    nx = head.cx + pose.tx + pose.scale * xr * d / (d - zr)
    ny = head.cy + pose.ty + pose.scale * yr * d / (d - zr)
    ox, oy = head.cx + X * d / (d - z), head.cy + Y * d / (d - z)
    w = np.ones_like(x) if planar else head.weight(x, y)
    return (nx - ox) * w, (ny - oy) * w


def move(image: np.ndarray, head: Head, pose: Pose, *, planar: bool = False) -> np.ndarray:
    """The picture with the head moved to ``pose`` (or, ``planar``, the whole picture moved as a flat sheet).

    The motion is smooth, so the source of each pixel is solved on a 4-pixel grid and interpolated."""
    h, w = image.shape[:2]
    step = 4
    ys, xs = np.mgrid[0:h + step:step, 0:w + step:step].astype(np.float64)
    px, py = xs.copy(), ys.copy()
    for _ in range(10):  # the source pixel p with p + d(p) = q (a contraction: slopes stay under 1)
        dx, dy = _displacement(head, pose, px, py, planar)
        px, py = xs - dx, ys - dy
    # displacement on the grid, enlarged to every pixel (Pillow puts grid node (j, i) at pixel (4j+1.5, 4i+1.5))
    size = (xs.shape[1] * step, xs.shape[0] * step)
    fine = [np.asarray(Image.fromarray((c - g).astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR))
            for c, g in ((px, xs), (py, ys))]
    fx, fy = _shifted(fine[0], h, w), _shifted(fine[1], h, w)
    moving = np.abs(fx) + np.abs(fy) > 0.02
    rows, cols = np.flatnonzero(moving.any(axis=1)), np.flatnonzero(moving.any(axis=0))
    out = np.asarray(image, dtype=np.float32).copy()
    if rows.size == 0:
        return out
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = _bilinear(image, gx + fx[y0:y1, x0:x1], gy + fy[y0:y1, x0:x1])
    return out


def _shifted(field: np.ndarray, h: int, w: int) -> np.ndarray:
    """The enlarged field, re-aligned so that pixel (y, x) reads the value of grid point (y / 4, x / 4)."""
    pad = np.pad(field, ((2, 0), (2, 0)), mode="edge")
    return pad[:h, :w]


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    flat = np.ascontiguousarray(image, dtype=np.float32).reshape(h * w, -1)
    x, y = np.clip(x, 0, w - 1.001), np.clip(y, 0, h - 1.001)
    x0, y0 = x.astype(np.int32), y.astype(np.int32)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    i = y0 * w + x0
    top = flat[i] * (1 - fx) + flat[i + 1] * fx
    bottom = flat[i + w] * (1 - fx) + flat[i + w + 1] * fx
    return top * (1 - fy) + bottom * fy


# --- Light --------------------------------------------------------------------------------------------------
def light_map(head: Head, shape: tuple[int, int], background: float) -> np.ndarray:
    """Share of the screen's light each pixel gets (before the head moves): face ~1, hair and neck ~0.4, body
    below the chin ~0.3, the far background ``background``."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    face = head.face_light(xs, ys)
    near = 0.4 * head.weight(xs, ys)
    body = np.where(ys > head.cy + 1.0 * head.b, 0.3, 0.0)
    return np.maximum.reduce([face, near, body, np.full_like(xs, background)])


def lit(image: np.ndarray, light: np.ndarray, colour: np.ndarray, strength: float, exposure: float) -> np.ndarray:
    """Reflected light: each pixel gains ``strength * light * colour`` of its own value (albedo), then the camera's
    auto-exposure pulls the whole picture back by ``exposure`` of the average gain."""
    gain = 1.0 + np.float32(strength) * light[..., None].astype(np.float32) * colour[None, None, :].astype(np.float32)
    out = image * gain
    return out / (1.0 + exposure * strength * float(light.mean()) * float(colour.mean()))


def catch_lights(image: np.ndarray, eyes: np.ndarray, radius: float, colour: np.ndarray, power: float) -> np.ndarray:
    """The screen mirrored in each cornea: a small spot of the screen's own colour."""
    out = image.copy()
    for ex, ey in eyes:
        x0, x1 = int(ex - radius - 2), int(ex + radius + 3)
        y0, y1 = int(ey - radius - 2), int(ey + radius + 3)
        ys, xs = np.mgrid[y0:y1, x0:x1]
        spot = np.clip(radius + 0.5 - np.hypot(xs - ex, ys - ey), 0, 1)[..., None]
        out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - spot * power) + spot * power * 255 * colour
    return out


def jpeg(image: np.ndarray, rng: np.random.Generator, noise: float, quality: int) -> bytes:
    noisy = image + rng.standard_normal(image.shape, dtype=np.float32) * noise
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# --- A session's clock ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Clock:
    """When everything happened: page clock for the page, server clock (= page + offset) for the server."""

    blink_ms: list[float]
    paints: list[float]
    steps: list[FlashStep]
    reveals: list[float]
    frame_ms: list[float]
    submitted_ms: float
    offset: float


def session_clock(plan: ChallengePlan, rng: np.random.Generator, *, rtt: tuple[float, float] = (30, 250)) -> Clock:
    blink_ms = [i * FRAME_MS + float(rng.uniform(0, 8)) for i in range(BLINK_FRAMES + TURN_FRAMES)]
    offset = float(rng.uniform(-3e5, 3e5))
    sent = blink_ms[-1] + float(rng.uniform(20, 80))
    steps, reveals, paints, frames = [], [], [], []
    for k, hold in enumerate(plan.holds_ms):
        trip = float(rng.uniform(*rtt))
        received = sent + trip
        reveals.append(sent + offset + trip * float(rng.uniform(0.3, 0.7)))
        painted = received + float(rng.uniform(1, 17))
        paints.append(painted)
        steps.append(FlashStep(sent_ms=sent, received_ms=received, painted_ms=painted))
        for j, age in enumerate(rules.CAPTURE_AGES_MS[: plan.frames_per_colour]):
            frames.append(painted + age + (float(rng.uniform(0.5, 6)) if j == 0 else float(rng.uniform(0, 40))))
        sent = painted + hold + float(rng.uniform(0, 15))
    submitted = frames[-1] + offset + float(rng.uniform(150, 1500))
    return Clock(blink_ms, paints, steps, reveals, frames, submitted, offset)


def screen_colour(plan: ChallengePlan, paints: list[float], t: float) -> np.ndarray:
    """The screen's colour (0-1 RGB) at page time ``t``: the page before the flash, then each painted step."""
    colour = WHITE
    for k, painted in enumerate(paints):
        if t >= painted:
            colour = tuple(v / 255 for v in rules.COLOUR_RGB[plan.colours[k]])
    return np.array(colour, dtype=np.float64)


def seen_colour(plan: ChallengePlan, paints: list[float], t: float, latency: float, exposure: float) -> np.ndarray:
    """What a frame grabbed at ``t`` shows: the screen over its exposure, ``latency`` ms earlier."""
    end = t - latency
    times = np.linspace(end - exposure, end, 5) if exposure > 0 else [end]
    return np.mean([screen_colour(plan, paints, s) for s in times], axis=0)


# --- Sessions ---------------------------------------------------------------------------------------------------
def _rng(kind: str, identity: str, index: int, salt: str = "") -> np.random.Generator:
    digest = hashlib.sha256(f"{VERSION}:{kind}:{identity}:{index}:{salt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def random_plan(rng: np.random.Generator, turn: bool = True) -> ChallengePlan:
    colours = tuple(rng.permutation(rules.COLOURS))
    holds = tuple(int(rng.choice(rules.HOLD_CHOICES_MS)) for _ in colours)
    return ChallengePlan(colours=colours, turn=str(rng.choice(rules.TURN_DIRECTIONS)) if turn else None,
                         holds_ms=holds)


@dataclasses.dataclass
class Motion:
    """How the head (or the sheet) moves over the session: slow sway, a random walk, the asked turn."""

    sway: float  # radians, amplitude of the natural yaw/pitch sway
    shift: float  # pixels, random-walk step
    turn: float  # radians at the peak of the asked turn (signed), 0 for none
    planar: bool = False

    def poses(self, rng: np.random.Generator, times: list[float], turn_frames: range) -> list[Pose]:
        phase = rng.uniform(0, 2 * math.pi, 3)
        tx = ty = 0.0
        out = []
        for i, t in enumerate(times):
            s = t / 1000.0
            tx += float(rng.normal(0, self.shift))
            ty += float(rng.normal(0, self.shift * 0.6))
            yaw = self.sway * math.sin(2 * math.pi * 0.35 * s + phase[0])
            pitch = 0.7 * self.sway * math.sin(2 * math.pi * 0.27 * s + phase[1])
            roll = 0.5 * self.sway * math.sin(2 * math.pi * 0.2 * s + phase[2])
            if i in turn_frames:
                j = i - turn_frames.start
                yaw += self.turn * math.sin(math.pi * (j + 0.5) / len(turn_frames))
            out.append(Pose(yaw=yaw, pitch=pitch, roll=roll, tx=tx, ty=ty,
                            scale=1.0 + 0.01 * math.sin(2 * math.pi * 0.15 * s)))
        return out


def _blink_levels(rng: np.random.Generator, blinks: bool) -> list[float]:
    levels = [0.0] * (BLINK_FRAMES + TURN_FRAMES)
    if blinks:
        start = int(rng.integers(3, BLINK_FRAMES - 5))
        shape = [[0.5, 1.0, 1.0, 0.5], [0.5, 1.0, 0.5], [0.25, 0.75, 1.0, 0.5]][int(rng.integers(0, 3))]
        for j, level in enumerate(shape):
            levels[start + j] = level
    return levels


def _eyes(lm: np.ndarray) -> np.ndarray:
    return np.array([lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)])


def render(identity: str, plan: ChallengePlan, clock: Clock, rng: np.random.Generator, *, zoom: float = 1.0,
           motion: Motion, blinks: bool = True, light: str = "face", strength: float = 0.12,
           background: float = 0.03, latency: float = 120.0, exposure: float = 33.0, catch: float = 0.7,
           light_plan: tuple[ChallengePlan, list[float]] | None = None, uniform_alpha: float = 0.0,
           swap_with: str | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The frames (float RGB) of one session: blink + turn frames, then the flash frames.

    :param light: ``face`` (real light on a head), ``sheet`` (the whole picture lit alike: paper), ``glass`` (a
        screen: emitted picture, the flash mirrored faintly on the glass), ``tint_face`` (an injector tinting the
        face area), ``none``.
    :param light_plan: the plan and paint times whose light the frames show (a replayed recording), default
        this session's.
    :param uniform_alpha: blend the whole frame this far towards the colour the injector learnt (issue 15's attack).
    :param swap_with: paste this identity's face over the head (a 2-D face swap), unlit.
    """
    levels, lm = zoomed(identity, zoom)
    head = Head.fit(lm)
    shown_plan, paints = light_plan or (plan, clock.paints)
    times = clock.blink_ms + clock.frame_ms
    n_head = BLINK_FRAMES + TURN_FRAMES
    poses = motion.poses(rng, times, range(BLINK_FRAMES, n_head))
    eye_levels = _blink_levels(rng, blinks) + [0.0] * len(clock.frame_ms)
    lmap = light_map(head, (HEIGHT, WIDTH), background) if light == "face" else None
    eye_width = float(np.linalg.norm(lm[39] - lm[36]))
    ae = float(rng.uniform(0.2, 0.8))
    swap = zoomed(swap_with, zoom) if swap_with else None
    frames = []
    for i, (t, pose) in enumerate(zip(times, poses)):
        image = level_frame(levels, eye_levels[i]).astype(np.float64)
        colour = seen_colour(shown_plan, paints, t, latency, exposure)
        if light == "face":
            image = lit(image, lmap, colour, strength, ae)
            if catch and eye_levels[i] < 0.75:
                image = catch_lights(image, _eyes(lm), max(1.0, 0.06 * eye_width), colour, catch)
        elif light == "sheet":
            image = lit(image, np.ones((HEIGHT, WIDTH)), colour, strength, ae)
        elif light == "tint_face":
            image = lit(image, head.face_light(*np.mgrid[0:HEIGHT, 0:WIDTH][::-1].astype(np.float64)), colour,
                        strength, ae)
        if swap is not None:
            image = _paste_face(image, lm, swap, eye_levels[i])
        image = move(image, head, pose, planar=motion.planar)
        if light == "glass":
            image = 0.92 * image + 10 + strength * 255 * colour[None, None, :] * 0.25
        if uniform_alpha:
            image = (1 - uniform_alpha) * image + uniform_alpha * 255 * colour[None, None, :]
        frames.append(np.clip(image, 0, 255))
    return frames[:n_head], frames[n_head:]


def _paste_face(image: np.ndarray, lm: np.ndarray, victim: tuple[dict, np.ndarray], level: float) -> np.ndarray:
    """Another face, moved by the similarity that best puts its landmarks on this face's, over the face area."""
    levels, vlm = victim
    src = vlm[:36]
    dst = lm[:36]
    sc, dc = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - sc, dst - dc
    scale = math.sqrt((b ** 2).sum() / max((a ** 2).sum(), 1e-9))
    angle = math.atan2((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum(), (a * b).sum())
    ca, sa = math.cos(angle), math.sin(angle)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    # inverse map: destination pixel -> victim pixel
    dx, dy = (xs - dc[0]) / scale, (ys - dc[1]) / scale
    sx = sc[0] + ca * dx + sa * dy
    sy = sc[1] - sa * dx + ca * dy
    pasted = _bilinear(level_frame(levels, level).astype(np.float64), sx, sy)
    head = Head.fit(lm)
    mask = np.clip(head.face_light(xs, ys) * 1.6, 0, 1)[..., None]
    return image * (1 - mask) + pasted * mask


def sample(kind: str, identity: str, index: int) -> Sample:
    """Build one session. ``kind`` is a genuine condition (:data:`GENUINE`), an attack species (:data:`ATTACKS`)
    or :data:`CAPABLE`; the victim (whose portrait is matched) is always ``identity``."""
    rng = _rng(kind, identity, index)
    plan = random_plan(rng)
    turn = math.radians(float(rng.uniform(15, 25))) * (1 if plan.turn == "left" else -1)
    rtt = (300, 900) if kind == "slow_camera" else (30, 250)
    clock = session_clock(plan, rng, rtt=rtt)
    genuine = kind in GENUINE
    portrait = PORTRAITS[identity]
    meta: dict = {}
    person = identity
    strength = float(rng.uniform(0.08, 0.2))
    latency = float(rng.uniform(60, 160))
    options: dict = {"strength": strength, "latency": latency, "background": float(rng.uniform(0.0, 0.06))}
    head_motion = Motion(sway=math.radians(float(rng.uniform(0.5, 1.5))), shift=0.4, turn=turn)
    if kind == "natural":
        head_motion = Motion(sway=math.radians(float(rng.uniform(2, 4))), shift=1.2, turn=turn)
    elif kind == "weak_light":
        options["strength"] = float(rng.uniform(0.035, 0.07))
    elif kind == "close":
        options["zoom"] = 1.35
    elif kind == "slow_camera":
        options["latency"] = float(rng.uniform(180, 240))
    # What each attack is, as physics or as an injector makes it.
    held = Motion(sway=math.radians(1.0), shift=0.8, turn=turn * float(rng.uniform(0.8, 1.2)) * (rng.random() < 0.7),
                  planar=True)  # a sheet held by hand; most attackers tilt it when asked to turn
    still = Motion(sway=math.radians(0.5), shift=0.3, turn=turn * (rng.random() < 0.5), planar=True)
    if kind == "printed_photo":
        options.update(motion=held, blinks=False, light="sheet")
    elif kind == "screen_photo":
        options.update(motion=held, blinks=False, light="glass")
    elif kind == "replay_video":
        recorded = random_plan(_rng(kind, identity, index, "recorded"))
        if rng.random() < 0.5:  # the recording happens to have this plan's colour order (timing still differs)
            recorded = dataclasses.replace(recorded, colours=plan.colours)
        start = clock.paints[0] + float(rng.uniform(-300, 300))
        paints, t = [], start
        for hold in recorded.holds_ms:
            paints.append(t)
            t += hold + float(rng.uniform(30, 250))
        meta["recorded_plan"] = recorded.to_json()
        rec_turn = math.radians(22.0) * (1 if recorded.turn == "left" else -1)
        options.update(motion=Motion(sway=math.radians(1.0), shift=0.4, turn=rec_turn), light="face",
                       light_plan=(recorded, paints))
    elif kind in ("animated_still", "animated_still_close"):
        options.update(motion=still, light="tint_face")
        if kind == "animated_still_close":  # eyes large enough for the catch-light check
            options["zoom"] = 1.35
    elif kind == "uniform_tint":
        if rng.random() < 0.5:
            options.update(motion=still, light="none", uniform_alpha=0.1)  # blended toward the colour
        else:
            options.update(motion=still, light="sheet")  # multiplied by the colour
    elif kind == "early_tint":
        options.update(motion=head_motion, light="face", latency=float(rng.uniform(-40, 0)), exposure=0.0)
    elif kind == "another_person":
        person = OTHER[identity]
        options.update(motion=head_motion)
    elif kind == "face_swap":
        person = OTHER[identity]
        options.update(motion=head_motion, swap_with=identity)
    elif kind in GENUINE or kind in CAPABLE:
        options.setdefault("motion", head_motion)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    options.setdefault("motion", head_motion)
    blink, colour = render(person, plan, clock, rng, **options)
    noise, quality = float(rng.uniform(1.5, 3.5)), int(rng.integers(72, 92))
    meta.update({k: (round(v, 4) if isinstance(v, float) else v) for k, v in options.items()
                 if isinstance(v, (int, float, str))}, person=person, noise=round(noise, 2), quality=quality)
    return Sample(kind=kind, identity=identity, index=index, portrait=portrait, genuine=genuine, plan=plan,
                  blink=[jpeg(f, rng, noise, quality) for f in blink],
                  colour=[jpeg(f, rng, noise, quality) for f in colour],
                  reveals_ms=clock.reveals, steps=clock.steps, frame_ms=clock.frame_ms,
                  submitted_ms=clock.submitted_ms, meta=meta)


def cache_dir() -> Path:
    root = Path(os.environ.get("SUISHEN_LIVENESS_CACHE") or Path.home() / ".cache" / "suishen")
    return root / f"liveness-v{VERSION}"


def cached_sample(kind: str, identity: str, index: int) -> Sample:
    """:func:`sample`, kept in :func:`cache_dir` (derived from the shared photos; never in the repository)."""
    path = cache_dir() / f"{kind}-{identity}-{index}.pickle"
    if path.is_file():
        with contextlib.suppress(Exception):  # a stale or torn cache file: build it again
            return pickle.loads(path.read_bytes())
    made = sample(kind, identity, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(pickle.dumps(made))
    tmp.replace(path)
    return made


def main(argv: list[str]) -> None:
    out, kind = Path(argv[0]), argv[1]
    identity = argv[2] if len(argv) > 2 else "s001"
    index = int(argv[3]) if len(argv) > 3 else 0
    made = sample(kind, identity, index)
    out.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(made.blink + made.colour):
        (out / f"{i:03d}.jpg").write_bytes(data)
    print(made.plan.to_json(), made.meta)


if __name__ == "__main__":
    main(sys.argv[1:])
