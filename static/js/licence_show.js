// 电子驾驶证 出示: 正页/副页 tabs, the QR and Code128 refreshed with every 60 s token, the live state (polled every
// 10 s, so a seizure turns the page red at once) and a ticking current time in Beijing time.
import { _ } from "./i18n.js";
import { bindRefreshButton, startRotatingToken } from "./rotating_token.js";

const STATE_POLL_SECONDS = 10;
const BARCODE_MAX_CSS_PX = 352;   // .licence__barcode max-width (22rem)
const root = document.getElementById("licence");
const qr = document.getElementById("qr-img");
const bar = document.getElementById("barcode-img");
const barText = document.getElementById("barcode-text");
const invalid = document.getElementById("codes-invalid");
const stateEl = document.getElementById("licence-state");
const generated = document.getElementById("generated-at");
const current = document.getElementById("current-time");
const countdown = document.getElementById("qr-countdown");
const clockFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", hour12: false, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit",
});
let offsetMs = 0;     // server clock minus this device's clock
let windowEnd = 0;    // performance.now() ms when the current code's window ends

function formatTime(ms) {
  return clockFormat.format(new Date(ms)).replaceAll("/", "-");
}

function setUsable(usable) {
  root.classList.toggle("licence--valid", usable);
  root.classList.toggle("licence--blocked", !usable);
  qr.hidden = !usable;
  bar.hidden = !usable;
  barText.hidden = !usable;
  invalid.hidden = usable;
  document.getElementById("qr-note").hidden = !usable;
  document.getElementById("qr-refresh").hidden = !usable;
}

// A whole number of device pixels per bar module: a scaled barcode gets blurred bar edges, which a low-density
// screen (1 device px per CSS px) turns into an unreadable code.
function fitBarcode() {
  const modules = Number(bar.dataset.modules);
  if (!modules) return;
  const dpr = window.devicePixelRatio || 1;
  const room = Math.min(bar.parentElement.clientWidth, BARCODE_MAX_CSS_PX);
  const perModule = Math.max(1, Math.floor((room * dpr) / modules));
  bar.style.width = `${(perModule * modules) / dpr}px`;
}

// The digits under the barcode in their groups of four: a line may break between groups (长辈模式 on a narrow
// screen), never inside one.
function showDigits(text) {
  const parts = [];
  for (const group of text.split(" ")) {
    if (parts.length) parts.push(" ");
    const span = document.createElement("span");
    span.className = "nowrap";
    span.textContent = group;
    parts.push(span);
  }
  barText.replaceChildren(...parts);
}

function onAnswer(resp, body) {
  if (!resp.ok) return;
  offsetMs = Date.parse(body.now) - Date.now();
  stateEl.textContent = body.state_label;
  setUsable(Boolean(body.usable));
  if (!body.usable) {
    qr.removeAttribute("src");
    bar.removeAttribute("src");
    barText.textContent = "";
    delete qr.dataset.token;
    if (body.message) invalid.textContent = body.message;
    return;
  }
  if (qr.dataset.token !== body.token) {
    qr.src = body.qr;
    bar.src = body.barcode;
    bar.dataset.modules = body.barcode_modules;
    fitBarcode();
    showDigits(body.code_text);
    qr.dataset.token = body.token;
    generated.textContent = body.generated_at;
  }
  windowEnd = performance.now() + body.refresh_in * 1000;
}

function onTick(now) {
  current.textContent = formatTime(Date.now() + offsetMs);
  countdown.textContent = String(Math.max(0, Math.ceil((windowEnd - now) / 1000)));
}

function showTab(tab) {
  for (const other of document.querySelectorAll(".tabs__tab")) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
}

for (const tab of document.querySelectorAll(".tabs__tab")) tab.addEventListener("click", () => showTab(tab));
window.addEventListener("resize", fitBarcode);
fitBarcode();  // data-modules comes with the page: the barcode has its final width before the first code

if (root) {
  const poller = startRotatingToken({
    url: root.dataset.tokenUrl, onAnswer, onTick, maxWaitSeconds: STATE_POLL_SECONDS,
    onError: () => { countdown.textContent = _("网络异常"); },
  });
  bindRefreshButton(document.getElementById("qr-refresh"), poller, document.getElementById("codes"));
}
