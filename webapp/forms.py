"""The base of every form: Flask-WTF (CSRF) with WTForms' own messages for the validators that carry no message of
ours in the request's language: WTForms' bundled Simplified Chinese (e.g. "字段长度不能超过 24 个字符。") or its
English source. Flask-WTF would ask Flask-Babel for WTForms' catalogue in our translation folder, which holds only
ours; ``WTF_I18N_ENABLED = False`` (config.DEFAULTS) lets WTForms' bundled catalogue serve."""
from __future__ import annotations

from flask_babel import get_locale
from flask_wtf import FlaskForm


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
