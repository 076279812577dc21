"""实人核验 as a reusable step: issue a challenge, decide the submitted frames, let the caller consume a pass.

A calling flow (account upgrade, travel-ID application, licence application...) calls :func:`start`, sends
the browser to the proofing page, and on its ``next_url`` calls :func:`consume` before doing the thing the
check protects. Services add and flush; the view commits.
"""
from __future__ import annotations

import dataclasses
import io
import json
import math
import random
import secrets
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from webapp import images
from webapp.audit import services as audit
from webapp.errors import DomainError, NotFound
from webapp.lazytext import _l
from webapp.proofing import engine, rules
from webapp.proofing.models import (
    CONSUMED,
    DECIDING,
    EXPIRED,
    FAILED,
    ISSUED,
    PASSED,
    QUEUED,
    Challenge,
    QueuedFrames,
)
from webapp.proofing.rules import ChallengePlan, Policy
from webapp.registry.models import Citizen

#: A passed challenge must be consumed by its caller within this time after the decision.
CONSUME_WINDOW = timedelta(minutes=5)
#: Failed attempts of one citizen and purpose are counted over this window (SUISHEN_PROOFING_MAX_FAILURES).
FAILURE_WINDOW = timedelta(hours=1)
#: Bytes of entropy in a challenge's public id (43 url-safe characters).
PUBLIC_ID_BYTES = 32

#: The citizen has no registry portrait to match against (not an engine reason: nothing was measured).
NO_PORTRAIT = "no_portrait"
NO_PORTRAIT_MESSAGE = _l("人口库中没有您的登记照片，无法进行人脸比对。请到窗口办理，或改用其他方式核验。")


#: The decision could not be made in time (queue too slow, worker killed): retryable, not the person's fault,
#: so :func:`failure_count` does not count it.
SYSTEM_BUSY = "system_busy"
SYSTEM_BUSY_MESSAGE = _l("系统繁忙，本次核验未能完成（不计入失败次数），请重新核验。")
TOO_MANY_FAILURES_MESSAGE = _l("核验失败次数过多，请稍后再试或改用其他方式办理。")


#: Width of a registry portrait as stored: enough to compare a face by eye on the officer page; ~30 KB.
PORTRAIT_STORED_WIDTH = 480


def prepare_portrait(data: bytes) -> tuple[bytes, bytes]:
    """A reference portrait for the face match (the registry import, demo enrolment): (stored JPEG, face encoding
    bytes). Loads the face models on first use (engine._models).

    :raises PortraitRefused: not an image, no face or several faces (the message says which, in Chinese)
    """
    try:
        array = engine.decode_portrait(data)
        encoding = engine.encode_face(array)
    except engine.PortraitError as exc:
        raise PortraitRefused({"no_face": _l("照片中未检测到人脸"), "several_faces": _l("照片中有多张人脸")}
                              .get(exc.code, _l("照片无法识别为 JPEG/PNG/WebP 图片"))) from None
    jpeg = images.to_jpeg(images.fit_width(array, PORTRAIT_STORED_WIDTH))
    return jpeg, encoding.astype("float64").tobytes()


class PortraitRefused(ValueError):
    """A portrait the face match cannot use as its reference."""


def reason_message(reason: str | None) -> str | None:
    """The user-facing message of a decision reason (engine reasons and this module's)."""
    if reason is None:
        return None
    if reason == NO_PORTRAIT:
        return NO_PORTRAIT_MESSAGE
    if reason == SYSTEM_BUSY:
        return SYSTEM_BUSY_MESSAGE
    return rules.REASON_MESSAGES.get(reason, _l("核验未通过，请重试。"))


class NoPortrait(DomainError):
    status = 409
    code = NO_PORTRAIT

    def __init__(self) -> None:
        super().__init__(NO_PORTRAIT_MESSAGE)


class InvalidFrames(DomainError):
    """The upload is not a set of camera frames the engine can read. Nothing was written."""

    status = 400
    code = rules.BAD_FRAME


class TooManyFailures(DomainError):
    """This party failed this purpose too often lately, or (a device not the holder's) the anonymous devices
    together did: no new challenge. ``refusal`` says which (rules.FAILED_HERE / FAILED_ELSEWHERE)."""

    status = 429
    code = "too_many_failures"

    def __init__(self, refusal: str = rules.FAILED_HERE) -> None:
        super().__init__(TOO_MANY_FAILURES_MESSAGE if refusal == rules.FAILED_HERE
                         else rules.FAILED_ELSEWHERE_MESSAGE)
        self.refusal = refusal


class NotProven(DomainError):
    """The caller's next step finds no usable passed challenge."""

    status = 403
    code = "not_proven"


def _public_id() -> str:
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


def start(session: Session, *, citizen: Citizen, purpose: str, now: datetime, policy: Policy,
          next_url: str | Callable[[str], str], fallback_url: str | None, user_id: int | None = None,
          rng: random.Random | None = None, attempt: int = 1, max_failures: int = 0,
          party: str | None = None) -> Challenge:
    """Issue a new single-use challenge for ``citizen``.

    :param purpose: what the pass will be used for, e.g. ``"account_realperson"``; :func:`consume` checks it.
    :param policy: the checks it asks for are stored with the challenge; the page runs exactly those.
    :param next_url: where the browser goes after a pass; a callable gets the new public id (so the caller
        can put it in the URL it will :func:`consume`).
    :param fallback_url: the calling flow's other way (window, paper route), offered after repeated failures.
    :param rng: ``random.SystemRandom()`` unless a test passes a seeded one.
    :param max_failures: SUISHEN_PROOFING_MAX_FAILURES; 0 = no cap. Counted per citizen and purpose across
        challenges (:func:`failure_count`), so a fresh challenge from the calling flow is refused as a retry is.
    :param party: whose try this is (``rules.user_party`` / ``rules.device_party``); failures are counted per
        party (rules.failure_refusal). None: every failure of the citizen and purpose counts as this caller's.
    :raises NoPortrait: the citizen has no registry portrait, so no face match could ever pass.
    :raises TooManyFailures: ``max_failures`` failed attempts of this party (or of anonymous devices, for a
        device that is not the holder's) and purpose in the window.
    """
    if citizen.portrait_encoding is None:
        raise NoPortrait()
    refusal = rules.failure_refusal(failure_count(session, citizen.id, purpose, now, party), max_failures)
    if refusal is not None:
        raise TooManyFailures(refusal)
    rng = rng or random.SystemRandom()
    plan = rules.make_challenge_plan(rng, policy)
    public_id = _public_id()
    challenge = Challenge(
        public_id=public_id, purpose=purpose, citizen_id=citizen.id, user_id=user_id, plan=plan.to_json(),
        checks=",".join(sorted(policy.checks)), status=ISSUED, issued_at=now,
        expires_at=now + rules.CHALLENGE_TTL, next_url=next_url(public_id) if callable(next_url) else next_url,
        fallback_url=fallback_url, attempt=attempt, party=party,
    )
    session.add(challenge)
    session.flush()
    audit.record(session, "proofing.start", now, actor_type="user" if user_id else "public", actor_id=user_id,
                 subject_type="proofing_challenge", subject_id=challenge.id, citizen_id=citizen.id,
                 purpose=purpose, attempt=attempt)
    return challenge


def get(session: Session, public_id: str) -> Challenge:
    """:raises NotFound: no challenge has this public id."""
    challenge = session.scalar(select(Challenge).where(Challenge.public_id == public_id))
    if challenge is None:
        raise NotFound(_l("该核验不存在或已失效，请返回重新发起。"))
    return challenge


def _claim(session: Session, public_id: str, status: str) -> bool:
    """Move an ``issued`` challenge to ``status`` in one UPDATE; False when another request got there first.

    The WHERE on the status is what makes a challenge single-use under concurrency: PostgreSQL makes the
    second UPDATE wait for the first transaction and then re-check the row; SQLite serialises writers.
    """
    result = session.execute(
        update(Challenge)
        .where(Challenge.public_id == public_id, Challenge.status == ISSUED)
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _zip_frames(blink: Sequence[bytes], colour: Sequence[bytes], timing: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for phase, frames in (("blink", blink), ("colour", colour)):
            for index, data in enumerate(frames, 1):
                archive.writestr(f"{phase}/{index:03d}.img", data)
        if timing is not None:
            archive.writestr("timing.json", json.dumps(timing))
    return buffer.getvalue()


def _unzip_frames(data: bytes) -> tuple[list[bytes], list[bytes], dict | None]:
    phases: dict[str, list[bytes]] = {"blink": [], "colour": []}
    timing = None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in sorted(archive.namelist()):
            phase = name.split("/", 1)[0]
            if phase in phases:
                phases[phase].append(archive.read(name))
            elif name == "timing.json":
                timing = json.loads(archive.read(name))
    return phases["blink"], phases["colour"], timing


# --- The flash, revealed step by step ------------------------------------------------------------------------
#: Most bytes of the page's timing report (4 steps x 3 times + 16 frame times: ~0.5 KB).
MAX_TIMING_BYTES = 4096


class FlashStepRefused(DomainError):
    status = 409
    code = "flash_step"


def reveal_step(session: Session, public_id: str, step: object, now: datetime) -> dict:
    """Tell the page the colour of flash step ``step`` (and how long to hold it), and record when (issue 15).

    The page learns each colour only when it must show it; the server keeps the instant of each reveal, and the
    decision checks the page's capture times against them (:func:`rules.flash_timeline`). A step is revealed once,
    in order; asking again for the last revealed one (a retried request) gets the same answer and keeps the first
    instant.

    :raises NotFound: unknown public id.
    :raises DomainError: 400 ``bad_step`` when ``step`` is not a step number of the plan.
    :raises FlashStepRefused: the challenge is not open, has no flash, or ``step`` is not the next one.
    """
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(rules.COLOURS):
        raise DomainError(_l("炫彩步骤无效，请重新核验。"), status=400, code="bad_step")
    challenge = get(session, public_id)
    if challenge.status != ISSUED or now > challenge.expires_at:
        raise FlashStepRefused(_l("该核验已结束，请重新核验。"))
    if "colour" not in challenge.check_set:
        raise FlashStepRefused(_l("本次核验不含炫彩检测。"))
    plan = ChallengePlan.from_json(challenge.plan)
    reveals = list(challenge.reveals or [])
    if step >= len(plan.colours):
        raise DomainError(_l("炫彩步骤无效，请重新核验。"), status=400, code="bad_step")
    if step == len(reveals):
        reveals.append(now.timestamp() * 1000)
        challenge.reveals = reveals  # a new list: the JSON column sees the change
        session.flush()
    elif step != len(reveals) - 1:
        raise FlashStepRefused(_l("炫彩步骤顺序不对，请重新核验。"))
    return plan.step(step)


def parse_timing(raw: str | None) -> dict | None:
    """The page's timing report (``{"steps": [[sent, received, painted], ...], "frames": [t, ...]}``, page clock, ms)
    checked for shape only; None when absent. Whether the times fit is the decision's (:func:`rules.flash_timeline`).

    :raises InvalidFrames: not JSON of that shape, or too long.
    """
    if raw is None or raw == "":
        return None
    message = _l("炫彩时间数据无效，请重新核验。")
    if len(raw) > MAX_TIMING_BYTES:
        raise InvalidFrames(message)
    try:
        timing = json.loads(raw)
    except ValueError as exc:
        raise InvalidFrames(message) from exc
    steps, frames = (timing.get("steps"), timing.get("frames")) if isinstance(timing, dict) else (None, None)
    if (not isinstance(steps, list) or not isinstance(frames, list) or len(steps) > 16
            or len(frames) > rules.MAX_FRAMES
            or not all(isinstance(s, list) and len(s) == 3 for s in steps)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in [*frames, *(x for s in steps for x in s)])):
        raise InvalidFrames(message)
    return {"steps": steps, "frames": frames}


def timeline(challenge: Challenge, timing: dict | None) -> rules.FlashTimeline:
    """The colour frames of ``challenge`` placed on the steps the server revealed (rules.flash_timeline)."""
    if timing is None:
        return rules.FlashTimeline(problem="the page sent no capture times")
    if challenge.queued_at is None:
        return rules.FlashTimeline(problem="not submitted")
    plan = ChallengePlan.from_json(challenge.plan)
    steps = [rules.FlashStep(*map(float, step)) for step in timing["steps"]]
    return rules.flash_timeline(plan, challenge.reveals or [], steps, [float(t) for t in timing["frames"]],
                                challenge.queued_at.timestamp() * 1000)


# --- The transient frames store ------------------------------------------------------------------------------
class DatabaseFrames:
    """Frames wait in ``proofing_queued_frames``, written in the same transaction that claims the challenge (so
    a queued challenge always has its frames) and deleted by the decision; :func:`fail_stale` deletes what a
    dead worker left, once expired. The embedded default: no server besides the database."""

    def put(self, session: Session, challenge: Challenge, data: bytes, expires_at: datetime) -> None:
        session.add(QueuedFrames(challenge_id=challenge.id, data=data, expires_at=expires_at))

    def take(self, session: Session, challenge_id: int) -> bytes | None:
        row = session.get(QueuedFrames, challenge_id)
        if row is None:
            return None
        data = row.data
        session.delete(row)
        return data

    def delete(self, session: Session, challenge_ids: Sequence[int]) -> None:
        if challenge_ids:
            session.execute(delete(QueuedFrames).where(QueuedFrames.challenge_id.in_(challenge_ids)))

    def sweep(self, session: Session, now: datetime) -> int:
        return session.execute(delete(QueuedFrames).where(QueuedFrames.expires_at < now)).rowcount or 0


class RedisFrames:
    """Frames wait in Redis under a key with ``EXPIRE`` (the queue's Redis): they vanish on their own even if
    every worker dies, and a megabyte per submission stays out of PostgreSQL's WAL and backups. Written before
    the claim commits; if that transaction fails, the orphan expires."""

    PREFIX = "suishen:proofing:frames:"

    def __init__(self, client) -> None:
        self.client = client

    def put(self, session: Session, challenge: Challenge, data: bytes, expires_at: datetime) -> None:
        ttl = max(1, int((expires_at - challenge.queued_at).total_seconds()))
        self.client.set(self.PREFIX + str(challenge.id), data, ex=ttl)

    def take(self, session: Session, challenge_id: int) -> bytes | None:
        return self.client.getdel(self.PREFIX + str(challenge_id))

    def delete(self, session: Session, challenge_ids: Sequence[int]) -> None:
        if challenge_ids:
            self.client.delete(*(self.PREFIX + str(i) for i in challenge_ids))

    def sweep(self, session: Session, now: datetime) -> int:
        return 0  # EXPIRE does it


_REDIS_FRAMES: dict[str, RedisFrames] = {}


def frame_store(queue_url: str) -> DatabaseFrames | RedisFrames:
    """Redis when the queue runs on Redis (SUISHEN_QUEUE_URL=redis://…), else the database table."""
    if queue_url.startswith(("redis://", "rediss://", "unix://")):
        if queue_url not in _REDIS_FRAMES:
            import redis

            _REDIS_FRAMES[queue_url] = RedisFrames(redis.Redis.from_url(queue_url))
        return _REDIS_FRAMES[queue_url]
    return DatabaseFrames()


# --- Cheap checks in the web worker ---------------------------------------------------------------------------
def check_frame_headers(frames: Sequence[bytes]) -> None:
    """Refuse frames the engine would not use, from their headers alone (:func:`engine.inspect_frame` reads the
    header lazily and decodes nothing; importing the engine loads no face model): bytes, format, a JPEG or PNG
    cut short, at most :data:`rules.MAX_UPLOAD_SIZE`; then what a camera canvas produces: a colour mode of
    :data:`rules.UPLOAD_MODES` (no 1-bit or palette PNG) and at least :data:`rules.MIN_UPLOAD_SIDE` pixels. So a
    crafted body (e.g. 48 large 1-bit PNGs that inflate to gigabytes) costs the web worker a few header reads,
    and the face worker never sees anything bigger than a camera frame.

    :raises InvalidFrames: with the message to show.
    """
    longest, shortest = rules.MAX_UPLOAD_SIZE
    for data in frames:
        try:
            info = engine.inspect_frame(data)
        except engine.FrameTooLarge as exc:
            raise InvalidFrames(_l("画面过大（最大 %(longest)s×%(shortest)s 像素、%(kb)s KB），请重新核验。",
                                   longest=longest, shortest=shortest, kb=rules.MAX_FRAME_BYTES // 1024)) from exc
        except engine.UnsupportedFormat as exc:
            raise InvalidFrames(_l("画面格式不支持，请使用摄像头拍摄的 JPEG、PNG 或 WebP 彩色图片。")) from exc
        except engine.BadFrame as exc:
            raise InvalidFrames(rules.REASON_MESSAGES[rules.BAD_FRAME]) from exc
        if info.format not in rules.UPLOAD_FORMATS or info.mode not in rules.UPLOAD_MODES:
            raise InvalidFrames(_l("画面格式不支持，请使用摄像头拍摄的 JPEG、PNG 或 WebP 彩色图片。"))
        if max(info.width, info.height) > longest or min(info.width, info.height) > shortest:
            raise InvalidFrames(_l("画面尺寸过大（最大 %(longest)s×%(shortest)s 像素），请重新核验。",
                                   longest=longest, shortest=shortest))
        if min(info.width, info.height) < rules.MIN_UPLOAD_SIDE:
            raise InvalidFrames(_l("画面尺寸过小（至少 %(n)s 像素），请重新核验。", n=rules.MIN_UPLOAD_SIDE))


# --- Submission: claim, queue, decide --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Submission:
    """What :func:`enqueue` did: ``decision`` when the answer is known at once (replay, expired), else the
    challenge is ``queued`` and a job must be enqueued for it after the commit."""

    challenge: Challenge
    decision: object | None = None


def _closed(reason: str):
    return engine.Decision(passed=False, reason=reason, scores={})


def enqueue(session: Session, public_id: str, *, blink_frames: list[bytes], colour_frames: list[bytes],
            now: datetime, store, frames_ttl: timedelta, timing: dict | None = None) -> Submission:
    """The frames request's share of a submission: cheap checks, claim the challenge, store the frames.

    A challenge is submitted at most once: it is claimed with an atomic ``UPDATE … WHERE status='issued'``
    (``issued`` → ``queued``); a replay (or the loser of two concurrent submissions) gets reason ``used``, a
    submission after ``expires_at`` gets ``expired``, whatever happens to the decision later.

    :param store: the transient frames store (:func:`frame_store`).
    :param timing: the page's capture times of the flash (:func:`parse_timing`), kept with the frames.
    :param frames_ttl: how long the frames may wait (the queue timeout); they are deleted by the decision.
    :raises NotFound: unknown public id.
    :raises InvalidFrames: no frames, too many, or a frame whose header the engine would refuse; nothing is
        written and the challenge stays open.
    """
    challenge = get(session, public_id)
    if challenge.status != ISSUED:
        return Submission(challenge, _used())
    if now > challenge.expires_at:
        if _claim(session, public_id, EXPIRED):
            challenge.decided_at, challenge.reason = now, rules.EXPIRED
            session.flush()
            session.refresh(challenge)
            audit.record(session, "proofing.expired", now, subject_type="proofing_challenge",
                         subject_id=challenge.id, citizen_id=challenge.citizen_id, purpose=challenge.purpose)
            return Submission(challenge, _closed(rules.EXPIRED))
        return Submission(challenge, _used())
    if not blink_frames:
        raise InvalidFrames(_l("没有收到画面，请重新核验。"))
    if len(blink_frames) + len(colour_frames) > rules.MAX_FRAMES:
        raise InvalidFrames(_l("画面过多（最多 %(n)s 帧），请重新核验。", n=rules.MAX_FRAMES))
    check_frame_headers([*blink_frames, *colour_frames])
    if not _claim(session, public_id, QUEUED):
        return Submission(challenge, _used())
    session.refresh(challenge)
    challenge.queued_at = now
    session.flush()
    store.put(session, challenge, _zip_frames(blink_frames, colour_frames, timing), now + frames_ttl)
    session.flush()
    audit.record(session, "proofing.queued", now, subject_type="proofing_challenge", subject_id=challenge.id,
                 citizen_id=challenge.citizen_id, purpose=challenge.purpose, attempt=challenge.attempt)
    return Submission(challenge)


def _used():
    return _closed(rules.USED)


@dataclasses.dataclass
class Work:
    """What a face worker needs to decide one challenge, read before the engine runs (so no transaction, and on
    SQLite no write lock, is held during the seconds of face work)."""

    challenge: Challenge
    frames: bytes | None
    reference: bytes | None


def start_deciding(session: Session, challenge_id: int, now: datetime, *, store) -> Work | None:
    """A face worker takes a queued challenge (``queued`` → ``deciding``) and its frames out of the store.

    The caller commits at once: the page then shows 正在核验, the sweeper can tell a dead worker's challenge, and
    the frames are gone from the store whatever happens next. None when it is not queued any more (swept as
    stale, or a duplicate job).
    """
    result = session.execute(
        update(Challenge).where(Challenge.id == challenge_id, Challenge.status == QUEUED)
        .values(status=DECIDING, deciding_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return None
    challenge = session.get(Challenge, challenge_id)
    session.refresh(challenge)
    citizen = session.get(Citizen, challenge.citizen_id)
    return Work(challenge, store.take(session, challenge_id), citizen.portrait_encoding if citizen else None)


def run_face_engine(blink_frames: list[bytes], colour_frames: list[bytes], plan: ChallengePlan,
                    reference: bytes | None, policy: Policy,
                    flash: rules.FlashTimeline | None = None) -> engine.Decision:
    """The face engine (webapp/proofing/engine.py): decode the frames, then liveness and the face match against the
    registry encoding (``reference``, float64 bytes; None: the citizen has none), the colour frames placed on the
    revealed flash steps by ``flash`` (:func:`timeline`). Loads the face models on first use, which only a
    deciding process does."""
    try:
        blink = [engine.decode_frame(data) for data in blink_frames]
        colour = [engine.decode_frame(data) for data in colour_frames]
    except engine.BadFrame:
        return engine.Decision(passed=False, reason=rules.BAD_FRAME, scores={})
    if reference is None:
        return engine.Decision(passed=False, reason=NO_PORTRAIT, scores={})
    return engine.decide(blink, colour, plan, np.frombuffer(reference, dtype=np.float64), policy, timeline=flash)


#: What decides an attempt, as :func:`run_face_engine` does; tests of something else (a clock boundary, queue
#: states) pass a stand-in engine named as such, so they do not run dlib.
FaceEngine = Callable[[list[bytes], list[bytes], ChallengePlan, "bytes | None", Policy, "rules.FlashTimeline | None"],
                      engine.Decision]


def decide(session: Session, work: Work, *, now: datetime, policy: Policy, keep_frames: bool = False,
           face_engine: FaceEngine = run_face_engine):
    """Decide a ``deciding`` challenge on its frames, then record the decision, scores and audit row.

    The engine runs first, touching no database; the result is written only if the challenge is still this
    worker's (``deciding`` since the same instant): a decision the sweeper already failed as stale is dropped, so
    a slow worker cannot overwrite the system failure the page has shown.

    :param keep_frames: keep the raw frames with the challenge (SUISHEN_KEEP_FRAMES).
    :param face_engine: :func:`run_face_engine` unless a test injects a stand-in.
    :returns: the engine's :class:`~webapp.proofing.engine.Decision`, or None when it was dropped.
    """
    challenge = work.challenge
    if work.frames is None:  # expired in the store: the person is not at fault
        decision = engine.Decision(passed=False, reason=SYSTEM_BUSY, scores={})
    else:
        blink_frames, colour_frames, timing = _unzip_frames(work.frames)
        # The page ran the checks stored with the challenge; a setting changed in between must not fail it.
        decision = face_engine(blink_frames, colour_frames, ChallengePlan.from_json(challenge.plan), work.reference,
                               dataclasses.replace(policy, checks=challenge.check_set),
                               timeline(challenge, timing) if colour_frames else None)
    result = session.execute(
        update(Challenge)
        .where(Challenge.id == challenge.id, Challenge.status == DECIDING,
               Challenge.deciding_at == challenge.deciding_at)
        .values(status=PASSED if decision.passed else FAILED, decided_at=now, reason=decision.reason,
                scores=decision.scores, kept_frames=work.frames if keep_frames and work.frames else None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return None
    session.refresh(challenge)
    audit.record(session, "proofing.decide", now, actor_type="user" if challenge.user_id else "public",
                 actor_id=challenge.user_id, subject_type="proofing_challenge", subject_id=challenge.id,
                 citizen_id=challenge.citizen_id, purpose=challenge.purpose, passed=decision.passed,
                 reason=decision.reason, attempt=challenge.attempt)
    return decision


def fail_as_system_busy(session: Session, challenge_id: int, now: datetime, *, store) -> bool:
    """End one queued or deciding challenge as a system failure (not the person's); False if it was decided."""
    result = session.execute(
        update(Challenge).where(Challenge.id == challenge_id, Challenge.status.in_((QUEUED, DECIDING)))
        .values(status=FAILED, decided_at=now, reason=SYSTEM_BUSY).execution_options(synchronize_session=False))
    store.delete(session, [challenge_id])
    if result.rowcount != 1:
        return False
    audit.record(session, "proofing.system_busy", now, subject_type="proofing_challenge", subject_id=challenge_id)
    return True


def fail_stale(session: Session, now: datetime, *, store, decision_budget: timedelta,
               queue_timeout: timedelta, challenge_id: int | None = None) -> int:
    """Fail as ``system_busy`` every challenge queued longer than ``queue_timeout`` or deciding longer than
    ``decision_budget`` (its worker died or overran), and drop expired frames. So no challenge stays stuck in
    ``queued``/``deciding``; none becomes answerable again either (only ``issued`` ones are).

    :param challenge_id: only this one (the status read checks its own challenge).
    :returns: how many challenges were failed.
    """
    stale = select(Challenge.id).where(
        ((Challenge.status == QUEUED) & (Challenge.queued_at < now - queue_timeout))
        | ((Challenge.status == DECIDING) & (Challenge.deciding_at < now - decision_budget)))
    if challenge_id is not None:
        stale = stale.where(Challenge.id == challenge_id)
    failed = sum(fail_as_system_busy(session, cid, now, store=store) for cid in session.scalars(stale).all())
    if challenge_id is None:
        store.sweep(session, now)
    return failed


def queue_length(session: Session) -> int:
    """Submissions waiting for or being decided, on every host (the database knows them all)."""
    return session.scalar(select(func.count()).select_from(Challenge)
                          .where(Challenge.status.in_((QUEUED, DECIDING)))) or 0


def queue_position(session: Session, challenge: Challenge) -> int:
    """How many queued submissions are ahead of this queued one (0 = next)."""
    return session.scalar(select(func.count()).select_from(Challenge).where(
        Challenge.status == QUEUED,
        (Challenge.queued_at < challenge.queued_at)
        | ((Challenge.queued_at == challenge.queued_at) & (Challenge.id < challenge.id)))) or 0


def submit(session: Session, public_id: str, *, blink_frames: list[bytes], colour_frames: list[bytes],
           now: datetime, policy: Policy, keep_frames: bool = False, face_engine: FaceEngine = run_face_engine,
           timing: dict | None = None):
    """Queue and decide one attempt in this process, in one go (what a face worker does, without the queue):
    for callers and tests that want the decision of a challenge at once.

    :returns: the engine's :class:`~webapp.proofing.engine.Decision` (reasons ``used``/``expired`` for a
        replay or a late submission, ``no_portrait`` when the citizen has no portrait to match).
    :raises NotFound: unknown public id.
    :raises InvalidFrames: no frames, too many, or frames the engine would refuse; nothing is written.
    """
    store = DatabaseFrames()
    submission = enqueue(session, public_id, blink_frames=blink_frames, colour_frames=colour_frames, now=now,
                         store=store, frames_ttl=timedelta(minutes=5), timing=timing)
    if submission.decision is not None:
        return submission.decision
    work = start_deciding(session, submission.challenge.id, now, store=store)
    return decide(session, work, now=now, policy=policy, keep_frames=keep_frames, face_engine=face_engine)


def consume(session: Session, public_id: str, *, purpose: str, citizen_id: int, now: datetime) -> Challenge:
    """Use a passed challenge for the caller's next step, once.

    :raises NotProven: unknown id, another purpose or citizen, not passed, already used, or decided more
        than :data:`CONSUME_WINDOW` ago.
    """
    result = session.execute(
        update(Challenge)
        .where(Challenge.public_id == public_id, Challenge.purpose == purpose,
               Challenge.citizen_id == citizen_id, Challenge.status == PASSED,
               Challenge.decided_at >= now - CONSUME_WINDOW)
        .values(status=CONSUMED)
        .execution_options(synchronize_session=False)
    )
    challenge = session.scalar(select(Challenge).where(Challenge.public_id == public_id))
    if result.rowcount == 1:
        session.refresh(challenge)
        audit.record(session, "proofing.consume", now, subject_type="proofing_challenge",
                     subject_id=challenge.id, citizen_id=citizen_id, purpose=purpose)
        return challenge
    if challenge is None or challenge.purpose != purpose or challenge.citizen_id != citizen_id:
        raise NotProven(_l("未找到与本业务对应的实人核验结果，请重新核验。"))
    if challenge.status == CONSUMED:
        raise NotProven(_l("该实人核验结果已使用，请重新核验。"), code="used")
    if challenge.status != PASSED:
        raise NotProven(_l("实人核验未通过，请重新核验。"))
    raise NotProven(_l("实人核验结果已过期（须在 5 分钟内完成后续步骤），请重新核验。"), code="expired")


def _failures_since(session: Session, citizen_id: int, purpose: str, now: datetime) -> datetime:
    """Failures count over the last :data:`FAILURE_WINDOW`, since the citizen's last pass of this purpose."""
    since = now - FAILURE_WINDOW
    last_pass = session.scalar(
        select(func.max(Challenge.decided_at)).where(
            Challenge.citizen_id == citizen_id, Challenge.purpose == purpose,
            Challenge.status.in_((PASSED, CONSUMED)), Challenge.decided_at >= since)
    )
    return last_pass if last_pass is not None else since


def failure_count(session: Session, citizen_id: int, purpose: str, now: datetime,
                  party: str | None = None) -> rules.FailureCount:
    """Failed attempts of this citizen and purpose in the last :data:`FAILURE_WINDOW`, since their last pass,
    across all their challenges (not counting ``system_busy`` ones), seen from ``party``: its own, those of
    anonymous devices other than it, and whether it is the holder's (a signed-in account of this citizen, or a
    device where the citizen passed within rules.TRUSTED_DEVICE_MEMORY). ``party`` None: every failure is "here"."""
    by_party = session.execute(
        select(Challenge.party, func.count()).where(
            Challenge.citizen_id == citizen_id, Challenge.purpose == purpose, Challenge.status == FAILED,
            Challenge.decided_at > _failures_since(session, citizen_id, purpose, now),
            # A system failure (queue too slow, worker died) is not the person's failed try.
            Challenge.reason.is_distinct_from(SYSTEM_BUSY))
        .group_by(Challenge.party)).all()
    if party is None:
        return rules.FailureCount(here=sum(n for _p, n in by_party))
    here = sum(n for p, n in by_party if p == party)
    # Another account is never another party of this citizen (one account per citizen): what is not this party
    # and not an account is an anonymous device.
    elsewhere = sum(n for p, n in by_party if p != party and not (p or "").startswith(rules.PARTY_USER))
    trusted = party.startswith(rules.PARTY_USER) or session.scalar(
        select(Challenge.id).where(
            Challenge.citizen_id == citizen_id, Challenge.party == party,
            Challenge.status.in_((PASSED, CONSUMED)),
            Challenge.decided_at >= now - rules.TRUSTED_DEVICE_MEMORY).limit(1)) is not None
    return rules.FailureCount(here=here, elsewhere=elsewhere, trusted=trusted)


def retry(session: Session, public_id: str, *, now: datetime, policy: Policy, max_failures: int,
          rng: random.Random | None = None, party: str | None = None) -> Challenge:
    """A new challenge for the same citizen, purpose and URLs as ``public_id``, with ``attempt + 1``.

    Where the old public id appears in ``next_url`` it is replaced by the new one.

    :raises NotFound: unknown id.
    :raises DomainError: the challenge already passed (nothing to retry), or ``max_failures`` reached.
    """
    old = get(session, public_id)
    if old.status in (PASSED, CONSUMED):
        raise DomainError(_l("本次核验已通过，无需重新核验。"), status=409, code="already_passed")
    if old.status in (QUEUED, DECIDING):
        raise DomainError(_l("正在核验，请稍候。"), status=409, code="deciding")
    if old.status == ISSUED:
        # Abandoned mid-way: close it so it cannot be answered any more.
        _claim(session, public_id, EXPIRED)
    # The caller put the old public id into its next_url (so it knows what to consume): swap in the new one.
    return start(session, citizen=old.citizen, purpose=old.purpose, now=now, policy=policy,
                 next_url=lambda new_id: old.next_url.replace(old.public_id, new_id),
                 fallback_url=old.fallback_url, user_id=old.user_id, rng=rng, attempt=old.attempt + 1,
                 max_failures=max_failures, party=party or old.party)
