"""The base of every form: Flask-WTF (CSRF) with WTForms' own messages for the validators that carry no message of
ours, in the request's language: WTForms' bundled Simplified Chinese ("字段长度不能超过 24 个字符。") or its English
source. Flask-WTF would ask Flask-Babel for WTForms' catalogue in our translation folder, which holds only ours;
``WTF_I18N_ENABLED = False`` (config.DEFAULTS) lets WTForms' bundled one serve.

Also the forms and fields more than one domain's pages use: the empty CSRF form, the required-field message and a
reviewer's decision."""
from __future__ import annotations

from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length

from webapp.lazytext import _l

REQUIRED = _l("此项为必填项。")


class Form(FlaskForm):
    class Meta:
        locales = ("zh",)

        def get_translations(self, form):
            locale = get_locale()
            if locale is not None and locale.language == "en":
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
