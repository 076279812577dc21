from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import StringField, SubmitField
from wtforms.validators import AnyOf, DataRequired, Length

from webapp.driving_licence import rules
from webapp.lazytext import _l
from webapp.web.forms import REQUIRED, Form, id_number_field

PHOTO_CHOICES = [(rules.PHOTO_SYSTEM, _l("使用系统照片（公安人口库照片，推荐）")),
                 (rules.PHOTO_ALBUM, _l("从相册选择")),
                 (rules.PHOTO_CAMERA, _l("拍摄照片"))]


class ApplyForm(Form):
    # Rendered as radios from PHOTO_CHOICES (wtforms 3.3 deprecates tuple choices, and tests run warnings as errors).
    photo_source = StringField(_l("驾驶证照片"), default=rules.PHOTO_SYSTEM,
                               validators=[DataRequired(REQUIRED), AnyOf(rules.PHOTO_SOURCES, _l("照片来源无效。"))])
    album = FileField(_l("相册照片"), render_kw={"accept": "image/jpeg,image/png,image/webp"})
    camera = FileField(_l("拍摄照片"), render_kw={"accept": "image/*", "capture": "user"})
    submit = SubmitField(_l("同意并申领"))


class PhotoForm(Form):
    photo_source = StringField(_l("照片来源"), default=rules.PHOTO_CAMERA,
                               validators=[DataRequired(REQUIRED),
                                           AnyOf((rules.PHOTO_ALBUM, rules.PHOTO_CAMERA), _l("照片来源无效。"))])
    album = FileField(_l("相册照片"), render_kw={"accept": "image/jpeg,image/png,image/webp"})
    camera = FileField(_l("拍摄照片"), render_kw={"accept": "image/*", "capture": "user"})
    submit = SubmitField(_l("更换照片"))


class SeizeForm(Form):
    id_number = id_number_field(_l("驾驶证号（身份证号）"))
    reason = StringField(_l("扣留依据（处罚决定书/强制措施凭证编号）"), validators=[DataRequired(REQUIRED), Length(max=200)])
    submit = SubmitField(_l("登记扣留"))
