from __future__ import annotations

from wtforms import HiddenField, SubmitField

from webapp.lazytext import _l
from webapp.web.forms import Form, id_number_field, name_field


class ApplyForm(Form):
    name = name_field()
    id_number = id_number_field(description=_l("仅支持中华人民共和国居民身份证"))
    latitude = HiddenField()
    longitude = HiddenField()
    submit = SubmitField(_l("立即申请"))
