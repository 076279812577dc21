// QR page: a fresh signed token at every 60 s window (and on 刷新), a countdown, and 实人核验 again after
// 30 minutes. Nothing here is cached: the token endpoint answers no-store.
import { _ } from "./i18n.js";
import { bindRefreshButton, startRotatingToken } from "./rotating_token.js";

const card = document.getElementById("cert");
const img = document.getElementById("qr-img");
const countdown = document.getElementById("qr-countdown");
const refreshBtn = document.getElementById("qr-refresh");
const note = document.getElementById("reverify-note");
let deadline = 0;   // when the current QR's window ends (performance.now() ms)
let reverifyAt = performance.now() + Number(card.dataset.reverifyIn) * 1000;
let leaving = false;  // navigate once: a second assign() would abort the first navigation

function leave(url) {
  if (leaving) return;
  leaving = true;
  // Replace: the stale QR page must not come back with Back once 实人核验 is asked again.
  if (url) window.location.replace(url); else window.location.reload();
}

function onAnswer(resp, body) {
  if (leaving) return;
  if (resp.status === 403 && body.reverify_url) {
    leave(body.reverify_url);
    return;
  }
  if (!resp.ok || body.state !== "valid") {
    leave(null);  // expired or revoked: the reloaded page shows what to do
    return;
  }
  img.src = body.qr;
  img.dataset.token = body.token;
  deadline = performance.now() + body.refresh_in * 1000;
  reverifyAt = performance.now() + body.reverify_in * 1000;
}

function onTick(now) {
  if (leaving) return;
  if (now >= reverifyAt) {
    leave(card.dataset.reverifyUrl);
    return;
  }
  countdown.textContent = String(Math.max(0, Math.ceil((deadline - now) / 1000)));
  const minutes = Math.ceil((reverifyAt - now) / 60000);
  note.textContent = _("为保障安全，%(minutes)s 分钟后需重新进行实人核验（不占用申请次数）。", {minutes});
}

if (img) {
  const poller = startRotatingToken({
    url: card.dataset.tokenUrl, onAnswer, onTick, onError: () => { countdown.textContent = _("网络异常"); },
  });
  bindRefreshButton(refreshBtn, poller, img);
}
