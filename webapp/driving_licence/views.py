"""我的驾驶证 / 业务中心 → 驾驶证电子版: apply (eligibility → notice → photo → 实人核验), show (正页/副页 with a
rotating QR and Code128), photo replacement, the traffic officer's 扣留 and the reviewer's queue."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from webapp import codes, images
from webapp.db import get_session
from webapp.driving_licence import rules, services
from webapp.driving_licence.forms import PHOTO_CHOICES, ApplyForm, PhotoForm, SeizeForm
from webapp.driving_licence.models import ACTIVE, INVALIDATED, PENDING, ElectronicLicence
from webapp.errors import DomainError, NotFound, TooSoon
from webapp.extensions import limiter
from webapp.lazytext import _l
from webapp.proofing import flow as proofing
from webapp.registry.rules import SEX_LABELS, licence_status_label
from webapp.roles import ROLE_REVIEWER, ROLE_TRAFFIC
from webapp.timeutil import format_deadline, format_local, to_local
from webapp.web import edge
from webapp.web.auth import citizen_required, current_citizen, officer_required
from webapp.web.forms import DecisionForm
from webapp.web.review import decision

bp = Blueprint("driving_licence", __name__, url_prefix="/licence")

APPLY_RATE_LIMIT = "10 per minute;30 per hour"
_now = edge.now


def _cities() -> frozenset[str] | None:
    return rules.enabled_cities(current_app.config.get("SUISHEN_LICENCE_REGIONS"))


def _own(public_id: str) -> ElectronicLicence:
    """The holder's own e-licence; anyone else's is 404 (its existence is not confirmed)."""
    user = current_citizen()
    licence = services.get(get_session(), public_id)
    if licence.citizen_id != user.citizen_id:
        raise NotFound(_l("未找到该电子驾驶证。"))
    return licence


def _uploaded(form) -> bytes | DomainError:
    """The photo of the chosen source, checked; or the error to show."""
    source = form.photo_source.data
    upload = (form.album if source == rules.PHOTO_ALBUM else form.camera).data
    if upload is None or not getattr(upload, "filename", ""):
        return DomainError(_l("请选择或拍摄一张照片。"), code="no_photo")
    if not images.upload_type_ok(upload):
        return DomainError(images.BAD_TYPE_MESSAGE, code="bad_type")
    try:
        return services.checked_photo(current_user.citizen, upload.read(services.MAX_PHOTO_BYTES + 1),
                                      tolerance=current_app.config["SUISHEN_FACE_TOLERANCE"])
    except services.PhotoRejected as exc:
        return exc


def _index_context(form: ApplyForm) -> dict:
    session = get_session()
    now = _now()
    user = current_user
    licence = services.current(session, user.citizen_id)
    live = services.state(licence, now) if licence else None
    refusal = None
    if licence is None or licence.status not in (ACTIVE, PENDING) or live.code == INVALIDATED:
        try:
            services.check_eligible(session, user.citizen, now, _cities())
        except services.NotEligible as exc:
            refusal = exc.user_message
    return {"form": form, "licence": licence, "refusal": refusal,
            "live": live,
            "due": format_deadline(licence.review_due_at) if licence else None,
            "messages": [{"body": m.body, "at": format_local(m.created_at)}
                         for m in services.messages_for(session, user.citizen_id, 5)],
            "has_portrait": user.citizen.portrait is not None, "photo_choices": PHOTO_CHOICES}


@bp.get("/")
@citizen_required
def index():
    """我的驾驶证: the e-licence, or why it cannot be applied for, or the application."""
    user = current_citizen()
    if not user.is_realperson:
        return render_template("driving_licence/need_verify.html")
    return render_template("driving_licence/index.html", **_index_context(ApplyForm()))


@bp.post("/apply")
@citizen_required
@limiter.limit(APPLY_RATE_LIMIT)
def apply():
    user = current_citizen()
    if not user.is_realperson:
        return render_template("driving_licence/need_verify.html"), 403
    form = ApplyForm()
    if not form.validate_on_submit():
        return render_template("driving_licence/index.html", **_index_context(form)), 400
    photo = None
    if form.photo_source.data != rules.PHOTO_SYSTEM:
        photo = _uploaded(form)
        if isinstance(photo, DomainError):
            form.form_errors.extend(getattr(photo, "messages", [photo.user_message]))
            return render_template("driving_licence/index.html", **_index_context(form)), 400
    session = get_session()
    try:
        services.apply(session, citizen=user.citizen, user_id=user.id, photo_source=form.photo_source.data,
                       photo=photo, now=_now(), cities=_cities(), notifier=edge.notifier())
    except DomainError as exc:
        status = form.refused(session, exc)
        return render_template("driving_licence/index.html", **_index_context(form)), status
    try:
        response = proofing.begin(
            citizen=user.citizen, purpose=services.PURPOSE_APPLY, user_id=user.id,
            next_url=lambda c: url_for("driving_licence.issue", c=c),
            fallback_url=url_for("driving_licence.index"))
    except proofing.NoPortrait:
        raise DomainError(proofing.NO_PORTRAIT_MESSAGE, status=409) from None
    edge.commit()  # the application and its 实人核验 challenge, together
    return response


@bp.get("/issue")
@edge.writes_on_get("the camera page's next step after a pass (a GET redirect) consumes the single-use pass")
@citizen_required
def issue():
    user = current_citizen()
    application = services.issue_after_proofing(get_session(), user.citizen, request.args.get("c", ""), _now(),
                                                _cities(), edge.notifier())
    edge.commit()
    if application.status == ACTIVE:
        flash(_l("电子驾驶证申领成功。"), "success")
        return redirect(url_for("driving_licence.show", public_id=application.public_id))
    flash(_l("申请已提交审核。"), "info")
    return redirect(url_for("driving_licence.index"))


def _show_context(licence: ElectronicLicence) -> dict:
    now = _now()
    record = licence.record
    citizen = licence.citizen
    replace_from = services.photo_replaceable_from(licence)
    return {
        "licence": licence, "record": record, "citizen": citizen, "sex": SEX_LABELS.get(citizen.sex, ""),
        "live": services.state(licence, now),
        "photo": images.jpeg_data_uri(licence.photo),
        "valid_until": f"{record.valid_until:%Y-%m-%d}" if record.valid_until else _l("长期"),
        "record_status": licence_status_label(record.status),
        "class_rules": rules.class_rules(record.licence_class),
        "replace_from_text": format_local(replace_from, "%Y-%m-%d %H:%M"),
        "can_replace": now >= replace_from,
        "photo_form": PhotoForm(), "photo_choices": PHOTO_CHOICES,
        "source_label": rules.PHOTO_SOURCE_LABELS[licence.photo_source],
        "barcode_modules": codes.barcode_modules(),
    }


@bp.get("/<public_id>")
@citizen_required
def show(public_id: str):
    """出示: 正页 and 副页. Never cached (no-store), logged in only; the code and the clock move."""
    licence = _own(public_id)
    if licence.status != ACTIVE or services.state(licence, _now()).code == INVALIDATED:
        return redirect(url_for("driving_licence.index"))
    resp = current_app.make_response(render_template("driving_licence/show.html", **_show_context(licence)))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/<public_id>/token")
@citizen_required
@limiter.limit("30 per minute")
def token(public_id: str):
    """What the show page polls every 60 s: the live state and, when usable, a fresh token as QR (the URL, for
    any phone camera) and the numeric code as Code128 (short enough to scan at phone size) and as digits."""
    licence = _own(public_id)
    now = _now()
    live = services.state(licence, now)
    body = {"state": live.code, "state_label": live.label, "usable": live.usable, "now": now.isoformat(),
            "message": services.status_reason(licence)}
    if live.usable:
        body.update(codes.qr_fields(licence, now),
                    **codes.barcode_fields(current_app.config["SECRET_KEY"], "driving_licence", licence.id, now),
                    generated_at=to_local(now).strftime("%Y-%m-%d %H:%M:%S"))
    return jsonify(body)


@bp.post("/<public_id>/photo")
@citizen_required
@limiter.limit(APPLY_RATE_LIMIT)
def replace_photo(public_id: str):
    licence = _own(public_id)
    form = PhotoForm()
    if not form.validate_on_submit():
        return _photo_refused(licence, [_l("请选择照片来源并上传照片。")], 400)
    try:
        # Before reading and face-checking an upload that could not be used anyway.
        services.check_photo_replaceable(licence, _now())
    except DomainError as exc:
        resp = _photo_refused(licence, [exc.user_message], exc.status)
        if isinstance(exc, TooSoon):
            resp.headers["Retry-After"] = str(max(1, int(exc.retry_after.total_seconds())))
        return resp
    photo = _uploaded(form)
    if isinstance(photo, DomainError):
        return _photo_refused(licence, getattr(photo, "messages", [photo.user_message]), photo.status)
    session = get_session()
    try:
        services.replace_photo(session, licence, source=form.photo_source.data, photo=photo, now=_now(),
                               user_id=current_user.id)
    except DomainError as exc:
        session.rollback()
        return _photo_refused(licence, [exc.user_message], exc.status)
    edge.commit()
    flash(_l("照片已更换。"), "success")
    return redirect(url_for("driving_licence.show", public_id=public_id))


def _photo_refused(licence: ElectronicLicence, messages: list[str], status: int):
    """The show page again with why the photo was not replaced, as a 4xx (nothing was written)."""
    for message in messages:
        flash(message, "danger")
    resp = current_app.make_response(
        (render_template("driving_licence/show.html", **_show_context(licence)), status))
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- Officers -------------------------------------------------------------------------------------------
@bp.route("/officer/seize", methods=["GET", "POST"])
@officer_required(ROLE_TRAFFIC)
def seize():
    """A traffic officer records 扣留 of a driving licence; the holder's e-licence turns red at once."""
    form = SeizeForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            record = services.record_seizure(session, officer=current_user, id_number=form.id_number.data,
                                             reason=form.reason.data, now=_now(), notifier=edge.notifier())
        except DomainError as exc:
            form.refused(session, exc)   # answered 400 below, as every refused submission of this form
        else:
            edge.commit()
            flash(_l("已登记扣留：%(name)s（档案编号 %(file_number)s）。", name=record.citizen.name,
                     file_number=record.file_number), "success")
            return redirect(url_for("driving_licence.seize"))
    return render_template("driving_licence/seize.html", form=form), 400 if form.is_submitted() else 200


@bp.get("/review")
@officer_required(ROLE_REVIEWER)
def review_queue():
    return _review_page(DecisionForm())


def _review_page(form: DecisionForm, status: int = 200):
    rows = [{"app": a, "photo": images.jpeg_data_uri(a.photo), "system": images.jpeg_data_uri(a.citizen.portrait),
             "due": format_deadline(a.review_due_at),
             "late": _now() >= a.review_due_at, "applied": format_local(a.applied_at)}
            for a in services.review_queue(get_session())]
    return render_template("driving_licence/review.html", rows=rows, form=form), status


@bp.post("/review/<public_id>")
@officer_required(ROLE_REVIEWER)
def decide(public_id: str):
    return decision(
        lambda session, approve, reason: services.decide(session, public_id, approve=approve, reason=reason,
                                                         reviewer=current_user, now=_now(),
                                                         notifier=edge.notifier()),
        _review_page, done=(_l("已审核通过。"), _l("已退回申请。")), back="driving_licence.review_queue")
