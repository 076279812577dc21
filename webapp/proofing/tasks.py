"""Queue jobs of 实人核验, thin like views: load by id, call a service, commit.

Jobs take the challenge's id, never frames (they wait in the transient store, :func:`services.frame_store`) or
ORM objects. They run in the face-worker processes (`flask --app app queue worker`), in an app context of the app
that configured the queue (its database, settings and clock).
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from huey import crontab
from huey.exceptions import TaskTimeout

from webapp.db import get_session
from webapp.proofing import services
from webapp.proofing.rules import Policy
from webapp.queue import current_app_for_jobs, huey, record_decision_seconds

log = logging.getLogger(__name__)


def _store(app):
    return services.frame_store(app.config["SUISHEN_QUEUE_URL"])


@huey.task(name="proofing.decide")
def decide(challenge_id: int) -> None:
    """Decide one queued challenge.

    Two commits, not one: ``deciding`` must be visible while the engine runs (the page shows 正在核验 and the
    sweeper can tell a dead worker's challenge), then the decision. A Huey timeout (the decision budget, with
    process workers) or any error ends it as a system failure, which the person may retry without it counting.
    """
    app = current_app_for_jobs()
    with app.app_context():
        session = get_session()
        clock = app.extensions["clock"]
        store = _store(app)
        work = services.start_deciding(session, challenge_id, clock.now(), store=store)
        session.commit()
        if work is None:
            return
        started = time.monotonic()
        try:
            decision = services.decide(
                session, work, now=clock.now(),
                policy=Policy.from_setting(app.config["SUISHEN_LIVENESS_CHECKS"],
                                           app.config["SUISHEN_FACE_TOLERANCE"]),
                keep_frames=app.config["SUISHEN_KEEP_FRAMES"], face_engine=app.extensions["face_engine"])
            session.commit()
        except (TaskTimeout, Exception) as error:  # noqa: BLE001 - any failure is the system's, never the person's
            session.rollback()
            log.warning("decision of challenge %s failed (%s): system failure", challenge_id,
                        error.__class__.__name__, exc_info=not isinstance(error, TaskTimeout))
            services.fail_as_system_busy(session, challenge_id, clock.now(), store=store)
            session.commit()
            if isinstance(error, TaskTimeout):
                raise
            return
        if decision is not None:
            record_decision_seconds(time.monotonic() - started, app.config["SUISHEN_PROOFING_DECISION_SECONDS"])


def sweep_now() -> int:
    """Fail stale challenges and drop expired frames (also what the periodic job runs); returns how many."""
    app = current_app_for_jobs()
    with app.app_context():
        session = get_session()
        failed = services.fail_stale(
            session, app.extensions["clock"].now(), store=_store(app),
            decision_budget=timedelta(seconds=app.config["SUISHEN_PROOFING_DECISION_BUDGET"]),
            queue_timeout=timedelta(seconds=app.config["SUISHEN_PROOFING_QUEUE_TIMEOUT"]))
        session.commit()
        if failed:
            log.warning("%s stale 实人核验 submission(s) failed as system_busy", failed)
        return failed


@huey.periodic_task(crontab(minute="*"), name="proofing.sweep")
def sweep() -> None:
    """Every minute on the consumer: no challenge stays queued or deciding past its budget (dead worker)."""
    sweep_now()
