"""实人核验 through the real task queue: the frames request answers 202 queued, a real Huey consumer (threads, on
this test's own SQLite queue file or Redis) decides, the page's status URL tells queued → deciding → decided.

The app runs on a committed database of its own (both backends), emptied before each test: the consumer's
threads cannot share the savepoint connection of the other http tests. The face decision itself is the real
engine on real frames; tests of a queue state (position, deciding, budget, dead worker) use a stand-in engine
named as such (tests/queue_support.py).
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import AuthActions, create_database, make_test_config
from tests.http.test_proofing_http import post_frames as post_blink
from tests.queue_support import (BlockingStandInEngine, DyingStandInEngine, ThreadConsumer, camera_jpeg,
                                  truncate_all, wait_for)
from tests.testdata import load_sequence, needs_testdata
from webapp import create_app, queue
from webapp.accounts.models import User
from webapp.db import make_engine, make_session_factory
from webapp.extensions import limiter
from webapp.proofing import services, tasks
from webapp.proofing.models import DECIDING, FAILED, PASSED, QUEUED, Challenge, QueuedFrames

PAGE_RE = re.compile(r"/proofing/([A-Za-z0-9_-]{40,})$")
BUDGET = 30


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def queue_database(request, tmp_path_factory):
    url, drop = create_database(request.param, tmp_path_factory)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop()


@pytest.fixture
def queue_url(tmp_path):
    return f"sqlite:///{tmp_path / 'queue.db'}"


@pytest.fixture
def qapp(queue_database, queue_url, clock):
    url, engine = queue_database
    truncate_all(engine)
    app = create_app(make_test_config(url, SUISHEN_QUEUE_URL=queue_url, SUISHEN_LIVENESS_CHECKS="blink,match",
                                      SUISHEN_PROOFING_DECISION_BUDGET=BUDGET),
                     clock=clock, session_factory=make_session_factory(engine))
    limiter.reset()
    yield app


@pytest.fixture
def qdb(queue_database):
    session = make_session_factory(queue_database[1])()
    factories.bind(session)
    yield session
    session.close()


def user_with_portrait(qdb, encoding: bytes | None = None, portrait: bytes = b"jpeg") -> User:
    encoding = encoding if encoding is not None else np.zeros(128, dtype=np.float64).tobytes()
    user = factories.UserFactory(citizen=factories.CitizenFactory(portrait=portrait, portrait_encoding=encoding))
    qdb.commit()
    return user


def begin(qapp, user) -> tuple:
    """A browser of its own: log in, start the account upgrade; (client, public id, CSRF token)."""
    client = qapp.test_client()
    assert AuthActions(client).login(user.phone).status_code == 302
    resp = client.get("/account/verify")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    public_id = PAGE_RE.search(resp.headers["Location"]).group(1)
    html = client.get(f"/proofing/{public_id}").get_data(as_text=True)
    return client, public_id, re.search(r'data-csrf="([^"]+)"', html).group(1)


def post_frames(client, public_id, token, frames):
    return post_blink(client, public_id, token, blink=frames)


def status(client, public_id) -> dict:
    resp = client.get(f"/proofing/{public_id}/status", headers={"Accept": "application/json"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def decided(client, public_id, timeout: float = 60.0) -> dict:
    return wait_for(lambda: (body := status(client, public_id))["status"] == "decided" and body, timeout)


def row(qdb, public_id) -> Challenge:
    qdb.expire_all()
    challenge = qdb.scalar(select(Challenge).where(Challenge.public_id == public_id))
    qdb.commit()  # end the read: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE)
    return challenge


def frames_waiting(qdb) -> int:
    qdb.expire_all()
    count = qdb.scalar(select(func.count()).select_from(QueuedFrames))
    qdb.commit()
    return count


@needs_testdata
def test_genuine_frames_are_queued_then_passed_by_a_real_consumer_when_posted(qapp, qdb, s001_portrait):
    jpeg, encoding = s001_portrait
    user = user_with_portrait(qdb, encoding=encoding, portrait=jpeg)
    client, public_id, token = begin(qapp, user)

    answer = post_frames(client, public_id, token, load_sequence("genuine_blink_meds_s001")[:24])

    body = answer.get_json()
    assert answer.status_code == 202, body
    assert body == {"status": "queued", "status_url": f"/proofing/{public_id}/status", "position": 0,
                    "wait_seconds": body["wait_seconds"], "poll_ms": 1000}
    assert row(qdb, public_id).status == QUEUED and frames_waiting(qdb) == 1
    with ThreadConsumer():
        result = decided(client, public_id)
    assert (result["passed"], result["reason"], result["failures"]) == (True, None, 0), result
    assert result["next_url"] == f"/account/verify/done?c={public_id}" and result["retry_url"] is None
    assert frames_waiting(qdb) == 0  # PIPL: the raw frames are gone with the decision
    challenge = row(qdb, public_id)
    assert challenge.status == PASSED and challenge.kept_frames is None and challenge.scores
    assert queue.decision_seconds(-1.0) > 0  # the moving average now holds a measured decision
    replay = post_frames(client, public_id, token, load_sequence("genuine_blink_meds_s001")[:24])
    assert replay.status_code == 200 and replay.get_json()["reason"] == "used"
    done = client.get(result["next_url"], follow_redirects=True).get_data(as_text=True)
    assert "实人认证成功" in done


@needs_testdata
def test_static_photo_is_failed_by_the_consumer_and_counts_as_a_failed_try(qapp, qdb, s001_portrait):
    jpeg, encoding = s001_portrait
    client, public_id, token = begin(qapp, user_with_portrait(qdb, encoding=encoding, portrait=jpeg))

    assert post_frames(client, public_id, token, load_sequence("static_photo_meds_s001")[:15]).status_code == 202
    with ThreadConsumer():
        result = decided(client, public_id)

    assert (result["passed"], result["reason"], result["failures"]) == (False, "no_blink", 1)
    assert result["retry_url"] == f"/proofing/{public_id}/retry"


def test_status_tells_each_submission_how_many_are_ahead_when_queued(qapp, qdb, monkeypatch):
    stand_in = BlockingStandInEngine(passed=False, reason="no_blink")
    stand_in.release.set()  # decides at once when a worker gets to it
    monkeypatch.setitem(qapp.extensions, "face_engine", stand_in)
    browsers = [begin(qapp, user_with_portrait(qdb)) for _ in range(3)]

    answers = [post_frames(client, public_id, token, [camera_jpeg()] * 12).get_json()
               for client, public_id, token in browsers]

    assert [a["position"] for a in answers] == [0, 1, 2]
    assert [status(c, p)["position"] for c, p, _ in browsers] == [0, 1, 2]
    # One worker (the test config), the default 1.5 s per decision until one is measured.
    assert [a["wait_seconds"] for a in answers] == [2, 3, 5]
    with ThreadConsumer():
        results = [decided(c, p) for c, p, _ in browsers]
    assert [r["reason"] for r in results] == ["no_blink"] * 3


def test_status_says_deciding_while_a_worker_decides(qapp, qdb, monkeypatch):
    stand_in = BlockingStandInEngine(passed=False, reason="no_blink")
    monkeypatch.setitem(qapp.extensions, "face_engine", stand_in)
    client, public_id, token = begin(qapp, user_with_portrait(qdb))

    assert post_frames(client, public_id, token, [camera_jpeg()] * 12).status_code == 202
    with ThreadConsumer():
        assert stand_in.started.wait(30)
        assert status(client, public_id)["status"] == "deciding"
        assert row(qdb, public_id).status == DECIDING
        stand_in.release.set()
        result = decided(client, public_id)

    assert result["reason"] == "no_blink" and result["failures"] == 1


def test_a_decision_over_its_budget_ends_as_a_system_failure_that_does_not_count(qapp, qdb, clock,
                                                                                monkeypatch):
    stand_in = BlockingStandInEngine(passed=True)
    monkeypatch.setitem(qapp.extensions, "face_engine", stand_in)
    client, public_id, token = begin(qapp, user_with_portrait(qdb))
    assert post_frames(client, public_id, token, [camera_jpeg()] * 12).status_code == 202

    with ThreadConsumer():
        assert stand_in.started.wait(30)
        clock.advance(seconds=BUDGET - 1)
        assert status(client, public_id)["status"] == "deciding"
        clock.advance(seconds=2)
        result = status(client, public_id)  # the status read fails it: the page never waits for ever
        stand_in.release.set()  # the overrunning worker finishes late: its pass must not replace the failure
        wait_for(lambda: not queue.huey._tasks_in_flight)

    assert result["status"] == "decided" and result["passed"] is False
    assert (result["reason"], result["failures"]) == (services.SYSTEM_BUSY, 0)
    assert result["message"] == services.SYSTEM_BUSY_MESSAGE and result["retry_url"]
    challenge = row(qdb, public_id)
    assert (challenge.status, challenge.reason) == (FAILED, services.SYSTEM_BUSY)
    assert frames_waiting(qdb) == 0
    assert post_frames(client, public_id, token, [camera_jpeg()] * 12).get_json()["reason"] == "used"
    retry = client.post(f"/proofing/{public_id}/retry", data={"csrf_token": token})
    assert retry.status_code == 302  # retryable at once


def test_a_dead_workers_challenge_is_swept_by_the_periodic_job(qapp, qdb, clock, monkeypatch):
    monkeypatch.setitem(qapp.extensions, "face_engine", DyingStandInEngine())
    client, public_id, token = begin(qapp, user_with_portrait(qdb))
    assert post_frames(client, public_id, token, [camera_jpeg()] * 12).status_code == 202

    with ThreadConsumer(workers=2) as consumer:
        wait_for(lambda: row(qdb, public_id).status == DECIDING)
        wait_for(lambda: sum(t.is_alive() for _, t in consumer.worker_threads) == 1)  # one worker died in it
        clock.advance(seconds=BUDGET + 1)
        tasks.sweep()  # what the scheduler enqueues every minute, run by the surviving worker
        wait_for(lambda: row(qdb, public_id).status == FAILED)

    challenge = row(qdb, public_id)
    assert challenge.reason == services.SYSTEM_BUSY and frames_waiting(qdb) == 0
    assert services.failure_count(qdb, challenge.citizen_id, challenge.purpose, clock.now()).here == 0
    qdb.commit()
    assert status(client, public_id)["reason"] == services.SYSTEM_BUSY


def test_a_submission_waiting_past_the_queue_timeout_is_failed_when_no_worker_runs(qapp, qdb, clock):
    client, public_id, token = begin(qapp, user_with_portrait(qdb))
    assert post_frames(client, public_id, token, [camera_jpeg()] * 12).status_code == 202

    clock.advance(seconds=qapp.config["SUISHEN_PROOFING_QUEUE_TIMEOUT"] + 1)
    result = status(client, public_id)

    assert (result["status"], result["reason"], result["failures"]) == ("decided", services.SYSTEM_BUSY, 0)
    assert frames_waiting(qdb) == 0


def test_frames_wait_in_redis_with_a_ttl_when_the_queue_is_on_redis(queue_database, clock, qdb):
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/15"
    try:
        client_ = redis.Redis.from_url(url)
        client_.ping()
    except redis.ConnectionError:
        pytest.skip("Redis not reachable")
    client_.flushdb()
    db_url, engine = queue_database
    truncate_all(engine)
    stand_in = BlockingStandInEngine(passed=False, reason="no_blink")
    stand_in.release.set()
    app = create_app(make_test_config(db_url, SUISHEN_QUEUE_URL=url, SUISHEN_LIVENESS_CHECKS="blink,match"),
                     clock=clock, session_factory=make_session_factory(engine), face_engine=stand_in)
    limiter.reset()
    client, public_id, token = begin(app, user_with_portrait(qdb))

    assert post_frames(client, public_id, token, [camera_jpeg()] * 12).status_code == 202

    key = services.RedisFrames.PREFIX + str(row(qdb, public_id).id)
    assert 0 < client_.ttl(key) <= app.config["SUISHEN_PROOFING_QUEUE_TIMEOUT"] and frames_waiting(qdb) == 0
    assert queue.pending() == 1
    with ThreadConsumer():
        assert decided(client, public_id)["reason"] == "no_blink"
    assert not client_.exists(key)
    client_.flushdb()


def test_queue_status_prints_what_waits_when_asked_from_the_command_line(qapp, qdb):
    client, public_id, token = begin(qapp, user_with_portrait(qdb))
    assert post_frames(client, public_id, token, [camera_jpeg()] * 12).status_code == 202

    result = qapp.test_cli_runner().invoke(args=["queue", "status", "--json"])
    text_result = qapp.test_cli_runner().invoke(args=["queue", "status"])

    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert (facts["storage"], facts["jobs_waiting"], facts["queued"], facts["deciding"]) == ("SqliteStorage", 1, 1, 0)
    assert facts["expected_wait_seconds"] == 3.0 and facts["max_wait_seconds"] == 20.0
    assert "排队中 1，正在核验 0" in text_result.output
