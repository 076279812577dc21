from __future__ import annotations

from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from webapp.lazytext import _l
from webapp.officer import rules
from webapp.web.forms import REQUIRED, Form, id_number_field, name_field


class OfficerLoginForm(Form):
    username = StringField(_l("工号/用户名"), validators=[DataRequired(REQUIRED), Length(max=32)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("密码"), validators=[DataRequired(REQUIRED), Length(max=64)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("登录"))


class PaperForm(Form):
    name = name_field(autocomplete="off")
    id_number = id_number_field(description=_l("仅限居民身份证号码，须与旅客出示的身份证明材料核对一致"))
    issuing_station = StringField(_l("发证车站"), validators=[DataRequired(REQUIRED), Length(max=rules.STATION_MAX)],
                                  render_kw={"placeholder": _l("如：广州南站")})
    submit = SubmitField(_l("登记并打印"))

