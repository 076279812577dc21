"""Verification pages: /v/<token> (what a plain phone camera opens when it reads a credential QR: the public
check), the signed status list offline verifiers fetch, the officers' scan page, and a holder's records (their travel IDs, paper certificates and who checked
them), which reads travel_id, officer and verification alike and so sits here, above them."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_login import current_user

from webapp import signing
from webapp.db import get_session
from webapp.errors import ServiceUnavailable
from webapp.extensions import limiter
from webapp.lazytext import _l
from webapp.officer.services import papers_for
from webapp.roles import SCAN_ROLES
from webapp.signing import keys
from webapp.signing import rules as signing_rules
from webapp.signing import status_list as signed_status_list
from webapp.timeutil import format_local
from webapp.travel_id import rules as travel_rules
from webapp.travel_id import services as travel
from webapp.verification import rules, services
from webapp.web import edge
from webapp.web.auth import citizen_required, officer_required

bp = Blueprint("verification", __name__)


@bp.get("/v/<token>")
@edge.writes_on_get("a scan's audit row: every verification is logged, the public ones too")
@limiter.limit(lambda: current_app.config["SUISHEN_PUBLIC_VERIFY_RATE_LIMIT"])
def public(token: str):
    session = get_session()
    result = services.verify(session, token, now=edge.now(),
                             grace_windows=current_app.config["SUISHEN_QR_GRACE_WINDOWS"],
                             secret=current_app.config["SECRET_KEY"],
                             keyring=signing.keyring(), viewer=services.Viewer.public())
    edge.commit()
    # The page is the same for everyone who opens the link, officers included: the public subset only.
    return render_template("verification/public.html", result=result,
                           checked=format_local(result.checked_at, "%Y-%m-%d %H:%M:%S"))


def _contexts_for(role: str) -> list[tuple[str, list[tuple[str, str]]]]:
    kinds = rules.DETAIL_KINDS.get(role, frozenset())
    return [(rules.CREDENTIAL_LABELS[kind], list(contexts.items()))
            for kind, contexts in rules.CONTEXTS.items() if kind in kinds]


@bp.get("/officer/scan")
@officer_required(*SCAN_ROLES)
def scan():
    max_age = current_app.config["SUISHEN_OFFLINE_STATUS_MAX_AGE"]
    # The service worker keeps this page for offline use (static/js/scan.js): nothing in it is personal beyond the
    # role's contexts, and no flash message is rendered into the copy it keeps (it fetches the page afresh).
    return render_template("verification/scan.html", officer=current_user, groups=_contexts_for(current_user.role),
                           api_url=url_for("api.verify"), offline_api_url=url_for("api.offline_scans"),
                           jwks_url=url_for("signing.jwks"), status_list_url=url_for("verification.status_list"),
                           status_max_age=max_age, status_max_age_minutes=max_age // 60)


@bp.get("/travel-id/records")
@citizen_required
def records():
    """申请记录 of 温馨服务: the holder's travel IDs, paper certificates and who checked them, last month."""
    now = edge.now()
    session = get_session()
    certs = travel.records(session, current_user.citizen_id, now)
    rows = [{"cert": c, "state": travel_rules.state(c.status, c.expires_at, now),
             "issued": format_local(c.issued_at), "expires": format_local(c.expires_at)} for c in certs]
    since = travel_rules.records_since(now)
    papers = [{"paper": p, "issued": format_local(p.issued_at)}
              for p in papers_for(session, current_user.citizen_id, current_user.id_number, since)]
    checks = [{"check": c, "at": format_local(c.at, "%Y-%m-%d %H:%M:%S")}
              for c in services.checks_for(session, current_user.citizen_id, since, credential=rules.TRAVEL_ID)]
    return render_template("verification/records.html", rows=rows, labels=travel_rules.STATUS_LABELS,
                           used=travel.used_this_month(session, current_user.citizen_id, now),
                           quota=travel_rules.MONTHLY_QUOTA, papers=papers, checks=checks)


@bp.get(signing.STATUS_LIST_PATH)
def status_list():
    """The signed status list (what offline verifiers fetch, public and cacheable): every credential they must refuse
    now, as of now (its ``iat``), signed by the current key."""
    now = edge.now()
    try:
        key = signing.keyring().signer(now)
    except keys.NoSigningKey as exc:
        current_app.logger.error("%s", exc)
        raise ServiceUnavailable(_l("状态列表暂时无法生成（签名密钥未配置）。")) from None
    body = signed_status_list.issue(key, services.status_states(get_session(), now), now,
                                    uri=signing.status_list_uri())
    resp = Response(body, mimetype=signing_rules.STATUS_LIST_TYPE)
    resp.headers["Cache-Control"] = f"public, max-age={int(signing_rules.STATUS_LIST_TTL.total_seconds())}"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    return resp
