// 获取验证码: after a code was sent, the button stays disabled for the resend cool-down the server gave
// (data-cooldown, seconds). The server enforces the cool-down anyway; this only tells the user.
import { _ } from "./i18n.js";

(function () {
  "use strict";
  document.querySelectorAll("button[data-cooldown]").forEach(function (button) {
    var left = parseInt(button.getAttribute("data-cooldown"), 10) || 0;
    var label = button.textContent;
    function tick() {
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.disabled = true;
      button.textContent = _("重新获取（%(seconds)s 秒）", {seconds: left});
      left -= 1;
      setTimeout(tick, 1000);
    }
    tick();
  });
})();
