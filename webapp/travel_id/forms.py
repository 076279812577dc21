from __future__ import annotations

from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from webapp.lazytext import _l
from webapp.web.forms import REQUIRED, Form


class ApplyForm(Form):
    name = StringField(_l("姓名"), validators=[DataRequired(REQUIRED), Length(max=30)],
                       render_kw={"autocomplete": "name"})
    id_number = StringField(_l("身份证号"), validators=[DataRequired(REQUIRED), Length(max=24)],
                            render_kw={"autocomplete": "off", "maxlength": 18},
                            description=_l("仅支持中华人民共和国居民身份证"))
    latitude = HiddenField()
    longitude = HiddenField()
    submit = SubmitField(_l("立即申请"))
