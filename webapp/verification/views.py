"""/v/<token>: what a plain phone camera opens when it reads a credential QR (the public check)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from webapp import signing
from webapp.db import get_session
from webapp.extensions import limiter
from webapp.timeutil import format_local
from webapp.verification import services

bp = Blueprint("verification", __name__)


@bp.get("/v/<token>")
@limiter.limit(lambda: current_app.config["SUISHEN_PUBLIC_VERIFY_RATE_LIMIT"])
def public(token: str):
    session = get_session()
    result = services.verify(session, token, now=current_app.extensions["clock"].now(),
                             grace_windows=current_app.config["SUISHEN_QR_GRACE_WINDOWS"],
                             secret=current_app.config["SECRET_KEY"],
                             keyring=signing.keyring(), viewer=services.Viewer.public())
    session.commit()
    # The page is the same for everyone who opens the link, officers included: the public subset only.
    return render_template("verification/public.html", result=result,
                           checked=format_local(result.checked_at, "%Y-%m-%d %H:%M:%S"))
