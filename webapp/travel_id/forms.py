from __future__ import annotations

from wtforms import HiddenField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from webapp.web.forms import REQUIRED, Form


class ApplyForm(Form):
    name = StringField("姓名", validators=[DataRequired(REQUIRED), Length(max=30)],
                       render_kw={"autocomplete": "name"})
    id_number = StringField("身份证号", validators=[DataRequired(REQUIRED), Length(max=24)],
                            render_kw={"autocomplete": "off", "maxlength": 18},
                            description="仅支持中华人民共和国居民身份证")
    latitude = HiddenField()
    longitude = HiddenField()
    submit = SubmitField("立即申请")
