"""实人核验 as a reusable step: issue a challenge, decide the submitted frames, let the caller consume a pass.

A calling flow (account upgrade, travel-ID application, licence application...) calls :func:`start`, sends
the browser to the proofing page, and on its ``next_url`` calls :func:`consume` before doing the thing the
check protects. Services add and flush; the view commits.
"""
from __future__ import annotations

import dataclasses
import io
import random
import secrets
import zipfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.audit import services as audit
from webapp.errors import DomainError, NotFound
from webapp.proofing import rules
from webapp.proofing.models import CONSUMED, DECIDING, EXPIRED, FAILED, ISSUED, PASSED, Challenge
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
NO_PORTRAIT_MESSAGE = "人口库中没有您的登记照片，无法进行人脸比对。请到窗口办理，或改用其他方式核验。"


def reason_message(reason: str | None) -> str | None:
    """The user-facing message of a decision reason (engine reasons and this module's)."""
    if reason is None:
        return None
    if reason == NO_PORTRAIT:
        return NO_PORTRAIT_MESSAGE
    return rules.REASON_MESSAGES.get(reason, "核验未通过，请重试。")


class NoPortrait(DomainError):
    status = 409
    code = NO_PORTRAIT

    def __init__(self) -> None:
        super().__init__(NO_PORTRAIT_MESSAGE)


class InvalidFrames(DomainError):
    """The upload is not a set of camera frames the engine can read. Nothing was written."""

    status = 400
    code = rules.BAD_FRAME


class NotProven(DomainError):
    """The caller's next step finds no usable passed challenge."""

    status = 403
    code = "not_proven"


def _public_id() -> str:
    return secrets.token_urlsafe(PUBLIC_ID_BYTES)


def start(session: Session, *, citizen: Citizen, purpose: str, now: datetime, policy: Policy,
          next_url: str | Callable[[str], str], fallback_url: str | None, user_id: int | None = None,
          rng: random.Random | None = None, attempt: int = 1) -> Challenge:
    """Issue a new single-use challenge for ``citizen``.

    :param purpose: what the pass will be used for, e.g. ``"account_realperson"``; :func:`consume` checks it.
    :param policy: the checks it asks for are stored with the challenge; the page runs exactly those.
    :param next_url: where the browser goes after a pass; a callable gets the new public id (so the caller
        can put it in the URL it will :func:`consume`).
    :param fallback_url: the calling flow's other way (window, paper route), offered after repeated failures.
    :param rng: ``random.SystemRandom()`` unless a test passes a seeded one.
    :raises NoPortrait: the citizen has no registry portrait, so no face match could ever pass.
    """
    if citizen.portrait_encoding is None:
        raise NoPortrait()
    rng = rng or random.SystemRandom()
    plan = rules.make_challenge_plan(rng, policy)
    public_id = _public_id()
    challenge = Challenge(
        public_id=public_id, purpose=purpose, citizen_id=citizen.id, user_id=user_id, plan=plan.to_json(),
        checks=",".join(sorted(policy.checks)), status=ISSUED, issued_at=now,
        expires_at=now + rules.CHALLENGE_TTL, next_url=next_url(public_id) if callable(next_url) else next_url,
        fallback_url=fallback_url, attempt=attempt,
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
        raise NotFound("该核验不存在或已失效，请返回重新发起。")
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


def _zip_frames(blink: Sequence[bytes], colour: Sequence[bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for phase, frames in (("blink", blink), ("colour", colour)):
            for index, data in enumerate(frames, 1):
                archive.writestr(f"{phase}/{index:03d}.img", data)
    return buffer.getvalue()


def submit(session: Session, public_id: str, *, blink_frames: list[bytes], colour_frames: list[bytes],
           now: datetime, policy: Policy, keep_frames: bool = False):
    """Decide one attempt and store the decision and scores with the challenge.

    A challenge is decided at most once: it is claimed with an atomic ``UPDATE … WHERE status='issued'``;
    a replay (or the loser of two concurrent submissions) gets reason ``used``. A submission after
    ``expires_at`` gets ``expired``. The checks are those stored with the challenge (what the page was
    told to run); ``policy`` gives the thresholds.

    :param keep_frames: keep the raw frames with the challenge (SUISHEN_KEEP_FRAMES); otherwise they are
        dropped once decided.
    :returns: the engine's :class:`~webapp.proofing.engine.Decision` (reason ``no_portrait`` when the
        citizen has no portrait to match).
    :raises NotFound: unknown public id.
    :raises InvalidFrames: no frames, too many, or a frame that is not a readable image; nothing is written
        and the challenge stays open.
    """
    from webapp.proofing import engine  # face_recognition is heavy: only the deciding process loads it

    challenge = get(session, public_id)
    if challenge.status != ISSUED:
        return engine.Decision(passed=False, reason=rules.USED, scores={})
    if now > challenge.expires_at:
        if _claim(session, public_id, EXPIRED):
            challenge.decided_at, challenge.reason = now, rules.EXPIRED
            session.flush()
            session.refresh(challenge)
            audit.record(session, "proofing.expired", now, subject_type="proofing_challenge",
                         subject_id=challenge.id, citizen_id=challenge.citizen_id, purpose=challenge.purpose)
            return engine.Decision(passed=False, reason=rules.EXPIRED, scores={})
        return engine.Decision(passed=False, reason=rules.USED, scores={})

    if not blink_frames:
        raise InvalidFrames("没有收到画面，请重新核验。")
    if len(blink_frames) + len(colour_frames) > rules.MAX_FRAMES:
        raise InvalidFrames(f"画面过多（最多 {rules.MAX_FRAMES} 帧），请重新核验。")
    try:
        blink = [engine.decode_frame(data) for data in blink_frames]
        colour = [engine.decode_frame(data) for data in colour_frames]
    except engine.BadFrame:
        raise InvalidFrames(rules.REASON_MESSAGES[rules.BAD_FRAME]) from None

    if not _claim(session, public_id, DECIDING):
        return engine.Decision(passed=False, reason=rules.USED, scores={})
    session.refresh(challenge)

    citizen = session.get(Citizen, challenge.citizen_id)
    plan = ChallengePlan.from_json(challenge.plan)
    if citizen is None or citizen.portrait_encoding is None:
        decision = engine.Decision(passed=False, reason=NO_PORTRAIT, scores={})
    else:
        reference = np.frombuffer(citizen.portrait_encoding, dtype=np.float64)
        # The page ran the checks stored with the challenge; a setting changed in between must not fail it.
        decision = engine.decide(blink, colour, plan, reference,
                                 dataclasses.replace(policy, checks=challenge.check_set))

    challenge.status = PASSED if decision.passed else FAILED
    challenge.decided_at = now
    challenge.reason = decision.reason
    challenge.scores = decision.scores
    if keep_frames:
        challenge.kept_frames = _zip_frames(blink_frames, colour_frames)
    session.flush()
    audit.record(session, "proofing.decide", now, actor_type="user" if challenge.user_id else "public",
                 actor_id=challenge.user_id, subject_type="proofing_challenge", subject_id=challenge.id,
                 citizen_id=challenge.citizen_id, purpose=challenge.purpose, passed=decision.passed,
                 reason=decision.reason, attempt=challenge.attempt)
    return decision


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
        raise NotProven("未找到与本业务对应的实人核验结果，请重新核验。")
    if challenge.status == CONSUMED:
        raise NotProven("该实人核验结果已使用，请重新核验。", code="used")
    if challenge.status != PASSED:
        raise NotProven("实人核验未通过，请重新核验。")
    raise NotProven("实人核验结果已过期（须在 5 分钟内完成后续步骤），请重新核验。", code="expired")


def recent_failures(session: Session, citizen_id: int, purpose: str, now: datetime) -> int:
    """Failed attempts of this citizen and purpose in the last :data:`FAILURE_WINDOW`, since their last pass."""
    since = now - FAILURE_WINDOW
    last_pass = session.scalar(
        select(func.max(Challenge.decided_at)).where(
            Challenge.citizen_id == citizen_id, Challenge.purpose == purpose,
            Challenge.status.in_((PASSED, CONSUMED)), Challenge.decided_at >= since)
    )
    if last_pass is not None:
        since = last_pass
    return session.scalar(
        select(func.count()).select_from(Challenge).where(
            Challenge.citizen_id == citizen_id, Challenge.purpose == purpose, Challenge.status == FAILED,
            Challenge.decided_at > since)
    ) or 0


def retry(session: Session, public_id: str, *, now: datetime, policy: Policy, max_failures: int,
          rng: random.Random | None = None) -> Challenge:
    """A new challenge for the same citizen, purpose and URLs as ``public_id``, with ``attempt + 1``.

    Where the old public id appears in ``next_url`` it is replaced by the new one.

    :raises NotFound: unknown id.
    :raises DomainError: the challenge already passed (nothing to retry), or ``max_failures`` reached.
    """
    old = get(session, public_id)
    if old.status in (PASSED, CONSUMED):
        raise DomainError("本次核验已通过，无需重新核验。", status=409, code="already_passed")
    if old.status == DECIDING:
        raise DomainError("正在核验，请稍候。", status=409, code="deciding")
    if max_failures and recent_failures(session, old.citizen_id, old.purpose, now) >= max_failures:
        raise DomainError("核验失败次数过多，请稍后再试或改用其他方式办理。", status=429, code="too_many_failures")
    if old.status == ISSUED:
        # Abandoned mid-way: close it so it cannot be answered any more.
        _claim(session, public_id, EXPIRED)
    # The caller put the old public id into its next_url (so it knows what to consume): swap in the new one.
    return start(session, citizen=old.citizen, purpose=old.purpose, now=now, policy=policy,
                 next_url=lambda new_id: old.next_url.replace(old.public_id, new_id), fallback_url=old.fallback_url, user_id=old.user_id, rng=rng,
                 attempt=old.attempt + 1)
