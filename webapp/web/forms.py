"""The base of every form: Flask-WTF (CSRF) with WTForms' own messages for the validators that carry no message of
ours, in the request's language: WTForms' bundled Simplified Chinese ("字段长度不能超过 24 个字符。") or its English
source. Flask-WTF would ask Flask-Babel for WTForms' catalogue in our translation folder, which holds only ours;
``WTF_I18N_ENABLED = False`` (config.DEFAULTS) lets WTForms' bundled one serve.

Also the forms and fields more than one domain's pages use: the empty CSRF form, the required-field message and a
reviewer's decision."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, StopValidation

from webapp import normalise
from webapp.lazytext import _l
from webapp.web.i18n import current_locale

REQUIRED = _l("此项为必填项。")


class Form(FlaskForm):
    class Meta:
        locales = ("zh",)

        def get_translations(self, form):
            if current_locale() == "en":
                return None  # WTForms' messages are written in English
            return super().get_translations(form)

    def refused(self, session, error) -> int:
        """A service refused what this form asked (``error``: a DomainError): undo the request's writes, show the
        reason above the form, and give the status to answer with."""
        session.rollback()
        self.form_errors.append(error.user_message)
        return error.status


class EmptyForm(Form):
    """A CSRF-protected form with no fields (logout, toggles)."""


class DecisionForm(Form):
    """A reviewer's decision (licence photo, ID-card review): approve, or reject with a reason the applicant reads."""

    reason = TextAreaField(_l("不通过原因"), validators=[Length(max=500, message=_l("不通过原因最多 500 字。"))])
    approve = SubmitField(_l("审核通过"))
    reject = SubmitField(_l("不通过"))


# The identity fields of every form, normalised by webapp/normalise.py before any validator runs (WTForms
# filters): a pasted "4401 0619 8803 0712 35", full-width digits, a lower-case x, "+86 138-0013-8000" and the
# middle-dot look-alikes of minority names all arrive clean. The browser's maxlength leaves room for the
# separators (and counts 𠮷 as two): the server says what is wrong, the browser never cuts a paste short.
def _valid_name(form, field) -> None:
    problem = normalise.name_problem(field.data or "")
    if problem:
        raise StopValidation(problem)


def name_field(label: str = _l("姓名"), **render_kw) -> StringField:
    return StringField(label, validators=[DataRequired(REQUIRED), _valid_name], filters=[normalise.normalise_name],
                       render_kw={"autocomplete": "name", "maxlength": 64, **render_kw})


def id_number_field(label: str = _l("身份证号"), *, required: bool = True, description: str | None = None,
                    **render_kw) -> StringField:
    return StringField(label, validators=[DataRequired(REQUIRED) if required else Optional(), Length(max=64)],
                       filters=[normalise.normalise_id_number], description=description,
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                  "maxlength": 64, **render_kw})


def phone_field(label: str = _l("手机号码"), *, description: str | None = None, **render_kw) -> StringField:
    return StringField(label, validators=[DataRequired(REQUIRED), Length(max=32)],
                       filters=[normalise.normalise_phone], description=description,
                       render_kw={"autocomplete": "tel", "inputmode": "tel", "maxlength": 32, **render_kw})


def sms_code_field(label: str = _l("短信验证码"), *, description: str | None = None) -> StringField:
    # Six digits, pasted from the SMS as "123 456" or typed full-width: normalised like a number.
    return StringField(label, validators=[Length(max=6, message=_l("验证码为 6 位数字。"))],
                       filters=[normalise.normalise_number], description=description,
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 16})
