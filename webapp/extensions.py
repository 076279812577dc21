from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "请先登录。"
login_manager.login_message_category = "info"
# "strong" would log a user out when the phone switches from Wi-Fi to mobile data.
login_manager.session_protection = "basic"

csrf = CSRFProtect()

# Storage comes from RATELIMIT_STORAGE_URI (memory:// on one host, redis:// when several hosts share it).
limiter = Limiter(key_func=get_remote_address)
