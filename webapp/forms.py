"""The base of every form: Flask-WTF (CSRF) with WTForms' own Simplified Chinese messages for the validators
that carry no message of ours (e.g. "字段长度不能超过 24 个字符。" instead of English). Flask-WTF would look for
Babel, which we do not use; ``WTF_I18N_ENABLED = False`` (config.DEFAULTS) lets WTForms' bundled catalogue serve."""
from __future__ import annotations

from flask_wtf import FlaskForm


class Form(FlaskForm):
    class Meta:
        locales = ("zh",)

    def refused(self, session, error) -> int:
        """A service refused what this form asked (``error``: a DomainError): undo the request's writes, show the
        reason above the form, and give the status to answer with."""
        session.rollback()
        self.form_errors.append(error.user_message)
        return error.status
