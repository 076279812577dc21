from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

REQUIRED = "此项为必填项。"


class RegisterForm(FlaskForm):
    name = StringField("姓名", validators=[DataRequired(REQUIRED), Length(max=30)],
                       render_kw={"autocomplete": "name"})
    id_number = StringField("身份证号", validators=[DataRequired(REQUIRED), Length(max=24)],
                            render_kw={"autocomplete": "off", "inputmode": "text", "maxlength": 18})
    phone = StringField("手机号码", validators=[DataRequired(REQUIRED), Length(max=20)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    password = PasswordField("密码", validators=[DataRequired(REQUIRED), Length(max=64)],
                             render_kw={"autocomplete": "new-password"},
                             description="至少 8 位，须同时包含字母和数字")
    confirm = PasswordField("确认密码", validators=[DataRequired(REQUIRED),
                                                  EqualTo("password", "两次输入的密码不一致。")],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField("注册")


class LoginForm(FlaskForm):
    account = StringField("手机号或身份证号", validators=[DataRequired(REQUIRED), Length(max=24)],
                          render_kw={"autocomplete": "username"})
    password = PasswordField("密码", validators=[DataRequired(REQUIRED), Length(max=64)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField("登录")


class EmptyForm(FlaskForm):
    """A CSRF-protected form with no fields (logout, toggles)."""
