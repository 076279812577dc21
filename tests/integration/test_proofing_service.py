"""The 实人核验 step as other flows use it: start → submit (real frames) → consume, on SQLite and PostgreSQL.

Face decisions run the real engine on real frames. Tests of the clock and of single use inject a stand-in engine,
named as such (tests/queue_support.py), into ``services.submit``: they must not run dlib."""
from __future__ import annotations

import io
import random
import zipfile

import pytest
from sqlalchemy import select

from tests import factories
from tests.queue_support import StandInEngine, camera_jpeg
from tests.testdata import load_sequence, needs_testdata
from tests.verification_support import FAKE_JPEG
from webapp.audit.models import AuditEvent
from webapp.errors import NotFound
from webapp.proofing import rules, services
from webapp.proofing.models import CONSUMED, EXPIRED, FAILED, ISSUED, PASSED, Challenge
from webapp.proofing.rules import ChallengePlan, Policy

# What a fake camera can do (no reflected light); the colour check has its own engine tests.
BLINK_MATCH = Policy.from_setting("blink,match", rules.DEFAULT_TOLERANCE)
PURPOSE = "account_realperson"
# Frames 0-23 hold one blink (frames 8-11) with open eyes either side: ~3 s at 8 fps, as the page sends.
BLINK_FRAMES = 24


@pytest.fixture(scope="module")
def frames():
    cache: dict[str, list[bytes]] = {}

    def get(name: str) -> list[bytes]:
        if name not in cache:
            cache[name] = load_sequence(name)[:BLINK_FRAMES]
        return cache[name]

    return get


@pytest.fixture
def s001_citizen(db_session, s001_portrait):
    """A citizen whose registry portrait is MEDS subject S001's: the genuine sequences match it."""
    jpeg, encoding = s001_portrait
    return factories.CitizenFactory(portrait=jpeg, portrait_encoding=encoding)


@pytest.fixture
def citizen(db_session):
    """A citizen with a registry encoding of no real face: for tests with a stand-in engine (no testdata)."""
    return factories.CitizenFactory(portrait=FAKE_JPEG, portrait_encoding=b"\x00" * 1024)


def start(db_session, citizen, clock, *, purpose=PURPOSE, policy=BLINK_MATCH, **kwargs):
    return services.start(db_session, citizen=citizen, purpose=purpose, now=clock.now(), policy=policy,
                          next_url=lambda c: f"/account/verify/done?c={c}", fallback_url="/account/",
                          rng=random.Random(7), **kwargs)


def submit(db_session, challenge, frames, clock, **kwargs):
    return services.submit(db_session, challenge.public_id, blink_frames=frames, colour_frames=[],
                           now=clock.now(), policy=BLINK_MATCH, **kwargs)


def fresh(db_session, challenge) -> Challenge:
    db_session.expire_all()
    return db_session.scalar(select(Challenge).where(Challenge.public_id == challenge.public_id))


# --- start ----------------------------------------------------------------------------------------------
def test_start_issues_a_plan_that_expires_in_60_seconds_when_called(db_session, citizen, clock):
    challenge = start(db_session, citizen, clock)

    assert challenge.status == ISSUED
    assert len(challenge.public_id) >= 40
    assert challenge.expires_at == clock.now() + rules.CHALLENGE_TTL
    assert challenge.next_url == f"/account/verify/done?c={challenge.public_id}"
    assert challenge.checks == "blink,match"
    assert sorted(ChallengePlan.from_json(challenge.plan).colours) == sorted(rules.COLOURS)
    assert challenge.attempt == 1


def test_start_refuses_when_the_citizen_has_no_portrait(db_session, clock):
    citizen = factories.CitizenFactory()
    with pytest.raises(services.NoPortrait) as excinfo:
        start(db_session, citizen, clock)
    assert "登记照片" in excinfo.value.user_message


# --- submit: real frames ------------------------------------------------------------------------------------
@needs_testdata
def test_genuine_user_passes_when_blinking_at_the_camera(db_session, s001_citizen, clock, frames):
    challenge = start(db_session, s001_citizen, clock)
    clock.advance(seconds=10)

    decision = submit(db_session, challenge, frames("genuine_blink_meds_s001"), clock)

    assert decision.passed, decision.scores
    stored = fresh(db_session, challenge)
    assert stored.status == PASSED and stored.reason is None
    assert stored.decided_at == clock.now()
    assert stored.scores["blinks"] >= 1
    assert stored.kept_frames is None  # raw frames are dropped after the decision by default
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "proofing.decide")).all()
    assert [e.detail["passed"] for e in events] == [True]


@needs_testdata
def test_static_photo_fails_with_no_blink_when_submitted(db_session, s001_citizen, clock, frames):
    challenge = start(db_session, s001_citizen, clock)

    decision = submit(db_session, challenge, frames("static_photo_meds_s001"), clock)

    assert (decision.passed, decision.reason) == (False, rules.NO_BLINK)
    assert "眨眼" in services.reason_message(decision.reason)
    stored = fresh(db_session, challenge)
    assert (stored.status, stored.reason) == (FAILED, rules.NO_BLINK)
    assert stored.scores


@needs_testdata
def test_wrong_person_fails_with_face_mismatch_when_blinking(db_session, s001_citizen, clock, frames):
    challenge = start(db_session, s001_citizen, clock)

    decision = submit(db_session, challenge, frames("wrong_person_blink"), clock)

    assert (decision.passed, decision.reason) == (False, rules.FACE_MISMATCH)


def test_frames_are_kept_only_when_the_keep_setting_is_on(db_session, citizen, clock):
    sent = [camera_jpeg(shade) for shade in range(100, 112)]
    challenge = start(db_session, citizen, clock)

    submit(db_session, challenge, sent, clock, keep_frames=True, face_engine=StandInEngine(passed=False,
                                                                                           reason=rules.NO_BLINK))

    kept = zipfile.ZipFile(io.BytesIO(fresh(db_session, challenge).kept_frames))
    assert len(kept.namelist()) == len(sent)
    assert kept.read(kept.namelist()[0]) == sent[0]


# --- submit: time and single use ------------------------------------------------------------------------------
def test_submission_is_decided_when_59_seconds_old(db_session, citizen, clock):
    challenge = start(db_session, citizen, clock)
    clock.advance(seconds=59)
    engine = StandInEngine(passed=True)

    decision = submit(db_session, challenge, [camera_jpeg()] * 12, clock, face_engine=engine)

    assert decision.passed and engine.calls == 1
    assert fresh(db_session, challenge).status == PASSED


def test_submission_fails_as_expired_when_61_seconds_old(db_session, citizen, clock):
    challenge = start(db_session, citizen, clock)
    clock.advance(seconds=61)
    engine = StandInEngine(passed=True)

    # Expiry is checked before anything is decoded, so the frames do not matter and no engine runs.
    decision = submit(db_session, challenge, [b"not looked at"], clock, face_engine=engine)

    assert (decision.passed, decision.reason) == (False, rules.EXPIRED)
    assert fresh(db_session, challenge).status == EXPIRED and engine.calls == 0


def test_replay_fails_as_used_when_already_decided(db_session, citizen, clock):
    challenge = start(db_session, citizen, clock)
    first = StandInEngine(passed=False, reason=rules.NO_BLINK)
    submit(db_session, challenge, [camera_jpeg()] * 12, clock, face_engine=first)
    again = StandInEngine(passed=True)

    replay = submit(db_session, challenge, [camera_jpeg()] * 12, clock, face_engine=again)

    assert (replay.passed, replay.reason) == (False, rules.USED) and again.calls == 0
    assert fresh(db_session, challenge).reason == rules.NO_BLINK  # the first decision stands


@pytest.mark.parametrize("sent", [[], [b"\xff\xd8junk"], [b"GIF89a" + b"\0" * 64]])
def test_bad_frames_are_refused_and_leave_the_challenge_open(db_session, citizen, clock, sent):
    challenge = start(db_session, citizen, clock)

    with pytest.raises(services.InvalidFrames):
        submit(db_session, challenge, sent, clock)

    assert fresh(db_session, challenge).status == ISSUED


def test_too_many_frames_are_refused_when_over_the_maximum(db_session, citizen, clock):
    challenge = start(db_session, citizen, clock)
    too_many = [camera_jpeg()] * (rules.MAX_FRAMES + 1)

    with pytest.raises(services.InvalidFrames):
        submit(db_session, challenge, too_many, clock)


def test_submit_refuses_when_the_public_id_is_unknown(db_session, clock):
    with pytest.raises(NotFound):
        services.submit(db_session, "nope", blink_frames=[b"x"], colour_frames=[], now=clock.now(),
                        policy=BLINK_MATCH)


# --- consume ---------------------------------------------------------------------------------------------------
def passed(db_session, citizen, clock, **kwargs) -> Challenge:
    """A challenge decided as passed just now (arranged directly: the engine path is tested above)."""
    challenge = start(db_session, citizen, clock, **kwargs)
    challenge.status, challenge.decided_at = PASSED, clock.now()
    db_session.flush()
    return challenge


def test_consume_succeeds_once_when_passed(db_session, citizen, clock):
    challenge = passed(db_session, citizen, clock)

    used = services.consume(db_session, challenge.public_id, purpose=PURPOSE, citizen_id=citizen.id,
                            now=clock.now())

    assert used.status == CONSUMED
    with pytest.raises(services.NotProven) as excinfo:
        services.consume(db_session, challenge.public_id, purpose=PURPOSE, citizen_id=citizen.id,
                         now=clock.now())
    assert "已使用" in excinfo.value.user_message


def test_consume_refuses_when_the_purpose_is_another(db_session, citizen, clock):
    challenge = passed(db_session, citizen, clock, purpose="travel_id_apply")

    with pytest.raises(services.NotProven):
        services.consume(db_session, challenge.public_id, purpose=PURPOSE, citizen_id=citizen.id,
                         now=clock.now())
    assert fresh(db_session, challenge).status == PASSED


def test_consume_refuses_when_the_citizen_is_another(db_session, citizen, clock):
    challenge = passed(db_session, citizen, clock)
    other = factories.CitizenFactory()

    with pytest.raises(services.NotProven):
        services.consume(db_session, challenge.public_id, purpose=PURPOSE, citizen_id=other.id,
                         now=clock.now())


def test_consume_refuses_when_the_pass_is_older_than_the_window(db_session, citizen, clock):
    challenge = passed(db_session, citizen, clock)
    clock.advance(seconds=services.CONSUME_WINDOW.total_seconds() + 1)

    with pytest.raises(services.NotProven) as excinfo:
        services.consume(db_session, challenge.public_id, purpose=PURPOSE, citizen_id=citizen.id,
                         now=clock.now())
    assert "过期" in excinfo.value.user_message


def test_consume_refuses_when_the_challenge_failed(db_session, citizen, clock):
    challenge = start(db_session, citizen, clock)
    challenge.status, challenge.decided_at, challenge.reason = FAILED, clock.now(), rules.NO_BLINK
    db_session.flush()

    with pytest.raises(services.NotProven):
        services.consume(db_session, challenge.public_id, purpose=PURPOSE, citizen_id=citizen.id,
                         now=clock.now())


# --- failures and retry ---------------------------------------------------------------------------------------
def failed(db_session, citizen, clock, **kwargs) -> Challenge:
    challenge = start(db_session, citizen, clock, **kwargs)
    challenge.status, challenge.decided_at, challenge.reason = FAILED, clock.now(), rules.NO_BLINK
    db_session.flush()
    return challenge


def test_failures_count_only_this_purpose_since_the_last_pass(db_session, citizen, clock):
    failed(db_session, citizen, clock)
    clock.advance(seconds=1)
    passed(db_session, citizen, clock)
    clock.advance(seconds=1)
    failed(db_session, citizen, clock)
    failed(db_session, citizen, clock, purpose="licence_apply")
    clock.advance(seconds=1)
    failed(db_session, citizen, clock)

    assert services.failure_count(db_session, citizen.id, PURPOSE, clock.now()).here == 2
    clock.advance(seconds=services.FAILURE_WINDOW.total_seconds() + 1)
    assert services.failure_count(db_session, citizen.id, PURPOSE, clock.now()).here == 0


def test_retry_starts_the_next_attempt_with_the_new_id_in_next_url(db_session, citizen, clock):
    old = failed(db_session, citizen, clock)

    new = services.retry(db_session, old.public_id, now=clock.now(), policy=BLINK_MATCH, max_failures=3)

    assert new.attempt == 2 and new.purpose == old.purpose and new.citizen_id == citizen.id
    assert new.next_url == f"/account/verify/done?c={new.public_id}"
    assert new.fallback_url == old.fallback_url


def test_retry_is_refused_when_max_failures_are_reached(db_session, citizen, clock):
    for _ in range(2):
        failed(db_session, citizen, clock)
    last = failed(db_session, citizen, clock)

    with pytest.raises(services.DomainError) as excinfo:
        services.retry(db_session, last.public_id, now=clock.now(), policy=BLINK_MATCH, max_failures=3)
    assert excinfo.value.status == 429
