from __future__ import annotations

from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, StringField, SubmitField
from wtforms.validators import Length, Optional

from webapp.lazytext import _l
from webapp.web.forms import Form, id_number_field, name_field, phone_field


class EnrolForm(Form):
    name = name_field()
    id_number = id_number_field(required=False,
                                description=_l("建议留空，由系统生成一个演示号码；已在人口库中的号码不能登记"))
    phone = phone_field()
    address = StringField(_l("住址"), validators=[Optional(), Length(max=120)])
    portrait = FileField(_l("人像照片"), validators=[
        FileRequired(_l("请拍摄或选择一张本人正面照片。")),
        FileAllowed(["jpg", "jpeg", "png", "webp"], _l("仅支持 JPG、PNG 或 WebP 图片。")),
    ], render_kw={"accept": "image/*", "capture": "user"},
        description=_l("正面、免冠、光线充足，画面中只有本人"))
    with_licence = BooleanField(_l("同时生成演示驾驶证档案（C1，状态正常）"), default=True)
    submit = SubmitField(_l("登记到演示人口库"))
