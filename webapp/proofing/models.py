from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.db import Base, UTCDateTime
from webapp.registry.models import Citizen

# Challenge.status values: issued -> queued (the frames request claimed it and handed it to the queue) ->
# deciding (a face worker took it) -> passed | failed; or issued -> expired. A queued or deciding challenge that
# outlives its time budget is failed with reason ``system_busy`` by the sweeper (not the person's failed try).
ISSUED = "issued"
QUEUED = "queued"
DECIDING = "deciding"
PASSED = "passed"
FAILED = "failed"
EXPIRED = "expired"
CONSUMED = "consumed"
STATUSES = (ISSUED, QUEUED, DECIDING, PASSED, FAILED, EXPIRED, CONSUMED)


class Challenge(Base):
    """One 实人核验 attempt: the plan the server chose, and later its scores and decision.

    Raw camera frames are not stored unless SUISHEN_KEEP_FRAMES is on (``kept_frames``, a zip of the
    JPEGs as received); the scores and the decision always are.
    """

    __tablename__ = "proofing_challenges"
    __table_args__ = (Index("ix_proofing_challenges_citizen_purpose", "citizen_id", "purpose", "decided_at"),
                      # The queue's length and a challenge's position are counted from this index.
                      Index("ix_proofing_challenges_status_queued_at", "status", "queued_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(43), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    plan: Mapped[str] = mapped_column(Text)  # ChallengePlan.to_json()
    checks: Mapped[str] = mapped_column(String(64))  # comma list, sorted: the policy's checks at issue
    status: Mapped[str] = mapped_column(String(16), default=ISSUED)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    next_url: Mapped[str] = mapped_column(String(512))
    fallback_url: Mapped[str | None] = mapped_column(String(512), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    #: Whose try it is (rules.user_party / rules.device_party): failures are counted per party (issue 16). NULL for
    #: challenges from before, and for callers that name none (counted as anonymous devices).
    party: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kept_frames: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    #: When the frames request handed it to the queue, and when a face worker started deciding it.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deciding_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: When the server revealed each flash step to the page (epoch ms, its clock; issue 15): the colours are told
    #: one step at a time, and the decision checks the page's capture times against these.
    reveals: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)

    citizen: Mapped[Citizen] = relationship()

    @property
    def check_set(self) -> frozenset[str]:
        return frozenset(name for name in self.checks.split(",") if name)


class QueuedFrames(Base):
    """The frames of a queued challenge, waiting for a face worker (the transient store without Redis).

    Deleted by the decision, and by the sweeper once ``expires_at`` is past whatever happened (PIPL: raw face
    images are kept no longer than the decision needs them; SUISHEN_KEEP_FRAMES keeps a copy on the challenge).
    """

    __tablename__ = "proofing_queued_frames"

    challenge_id: Mapped[int] = mapped_column(ForeignKey("proofing_challenges.id", ondelete="CASCADE"),
                                              primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # a zip: blink/001.img ..., colour/001.img ...
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
