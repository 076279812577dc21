"""Demo-only self-enrolment: lets a visitor put their own portrait in the registry to try the product."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask import session as web_session

from webapp.db import get_session
from webapp.demo.forms import EnrolForm
from webapp.errors import DomainError
from webapp.extensions import limiter
from webapp.lazytext import _l
from webapp.proofing.services import prepare_portrait
from webapp.registry import rules, services
from webapp.timeutil import local_date
from webapp.web import edge

bp = Blueprint("demo", __name__, url_prefix="/demo")


@bp.before_request
def demo_only():
    if not current_app.config["SUISHEN_DEMO"]:
        abort(404)


@bp.route("/enrol", methods=["GET", "POST"])
# Every POST counts, refused ones too: a refusal says whether a number is in the registry.
@limiter.limit(lambda: current_app.config["SUISHEN_DEMO_ENROL_RATE_LIMIT"], methods=["POST"])
def enrol():
    """Adds a new demo citizen; never changes one that exists (services.enrol_demo_citizen)."""
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        session = get_session()
        now = edge.now()
        today = local_date(now)
        data = form.portrait.data.read(services.MAX_PORTRAIT_BYTES + 1)
        try:
            citizen = services.enrol_demo_citizen(
                session, id_number=form.id_number.data or None, name=form.name.data,
                phone=form.phone.data, address=form.address.data or "演示地址", portrait=data, now=now,
                prepare_portrait=prepare_portrait)
            if form.with_licence.data:
                services.upsert_licence(session, {
                    "id_number": citizen.id_number, "file_number": f"9{citizen.id:011d}", "class": "C1",
                    "first_issued": (today - timedelta(days=3 * 365)).isoformat(),
                    "valid_from": (today - timedelta(days=3 * 365)).isoformat(),
                    "valid_until": (today + timedelta(days=3 * 365)).isoformat(),
                    "issuing_authority": "广东省广州市公安局交通警察支队", "status": "正常", "points": "0",
                }, now)
        except DomainError as exc:  # the number is in the registry already (or a concurrent enrolment took it)
            status = form.refused(session, exc)
        except rules.InvalidIdNumber as exc:
            form.id_number.errors.append(str(exc))
        except services.BadRow as exc:
            form.portrait.errors.append(str(exc))
        except ValueError as exc:
            form.form_errors.append(str(exc))
        else:
            edge.commit()
            flash(_l("已登记到演示人口库。"), "success")
            # Only this browser may see the full number it just enrolled.
            web_session["enrolled_citizen"] = citizen.id
            return redirect(url_for("demo.enrolled"))
    if form.is_submitted() and status == 200:
        status = 400
    return render_template("demo/enrol.html", form=form), status


@bp.get("/enrolled")
def enrolled():
    citizen_id = web_session.get("enrolled_citizen")
    if citizen_id is None:
        return redirect(url_for("demo.enrol"))
    citizen = services.get_citizen(get_session(), citizen_id)
    return render_template("demo/enrolled.html", citizen=citizen)
