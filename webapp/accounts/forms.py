from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from webapp.lazytext import _l
from webapp.normalise import normalise_account
from webapp.web.forms import REQUIRED, Form, id_number_field, name_field, phone_field, sms_code_field


class RegisterForm(Form):
    name = name_field()
    id_number = id_number_field()
    phone = phone_field()
    password = PasswordField(_l("密码"), validators=[DataRequired(REQUIRED), Length(max=64)],
                             render_kw={"autocomplete": "new-password"},
                             description=_l("至少 8 位，须同时包含字母和数字"))
    confirm = PasswordField(_l("确认密码"), validators=[DataRequired(REQUIRED),
                                                  EqualTo("password", _l("两次输入的密码不一致。"))],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("注册"))


class LoginForm(Form):
    account = StringField(_l("手机号或身份证号"), validators=[DataRequired(REQUIRED), Length(max=64)],
                          filters=[normalise_account],
                          render_kw={"autocomplete": "username", "spellcheck": "false", "maxlength": 64})
    password = PasswordField(_l("密码"), validators=[DataRequired(REQUIRED), Length(max=64)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("登录"))


CODE_HINT = _l("短信中的 6 位数字验证码")


class RealnameForm(Form):
    """实名认证: a code to the phone on file. ``send`` asks for a code, ``submit`` checks it."""

    code = sms_code_field(description=CODE_HINT)
    send = SubmitField(_l("获取验证码"))
    submit = SubmitField(_l("提交认证"))


class ResetPasswordForm(Form):
    """忘记密码 (and the first password of a 面签 account): phone, SMS code, new password."""

    phone = phone_field()
    code = sms_code_field(description=CODE_HINT)
    password = PasswordField(_l("新密码"), validators=[Length(max=64)], render_kw={"autocomplete": "new-password"},
                             description=_l("至少 8 位，须同时包含字母和数字"))
    confirm = PasswordField(_l("确认新密码"), validators=[EqualTo("password", _l("两次输入的密码不一致。"))],
                            render_kw={"autocomplete": "new-password"})
    send = SubmitField(_l("获取验证码"))
    submit = SubmitField(_l("设置密码"))


class IdCardForm(Form):
    front = FileField(_l("身份证人像面"), validators=[FileRequired(_l("请上传身份证人像面照片。"))],
                      render_kw={"accept": "image/jpeg,image/png,image/webp"})
    back = FileField(_l("身份证国徽面"), validators=[FileRequired(_l("请上传身份证国徽面照片。"))],
                     render_kw={"accept": "image/jpeg,image/png,image/webp"})
    submit = SubmitField(_l("提交人工审核"))


class FaceToFaceForm(Form):
    """面签 at a police window: the officer has the person and the ID card in front of them."""

    name = name_field(autocomplete="off")
    id_number = id_number_field()
    phone = phone_field(description=_l("申请人本人使用的手机号，登录账号和接收短信用"), autocomplete="off")
    checked = BooleanField(_l("已核对申请人本人与身份证原件、人口库照片一致"),
                           validators=[DataRequired(_l("请先核对申请人本人与身份证原件、人口库照片一致。"))])
    submit = SubmitField(_l("面签注册"))
