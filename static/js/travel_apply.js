// 临时乘车身份证明 apply page: location is required; show the located city, or how to allow location.
// The browser is asked for the location only when the person presses 获取定位 (never on load: a permission prompt
// nobody asked for), or at once when this site already has the permission (no prompt then). The help paragraph is
// always on the page and only its words change, so nothing below it moves.
import { _ } from "./i18n.js";
const form = document.getElementById("apply-form");
const cityEl = document.getElementById("locate-city");
const helpEl = document.getElementById("locate-help");
const button = document.getElementById("relocate");
const submit = document.getElementById("apply-submit");
const lat = document.getElementById("latitude");
const lon = document.getElementById("longitude");
const HOW_TO_ALLOW = _("请在浏览器“网站设置”或手机“设置 → 隐私 → 定位服务”中允许本网站使用位置，再点击“重新定位”。");
const LOCATED = _("已确认所在城市。如位置有变，可点击“重新定位”。");

function fail(message, help = HOW_TO_ALLOW) {
  cityEl.textContent = message;
  helpEl.textContent = help;
  helpEl.classList.add("locate__help--problem");
  submit.disabled = true;
}

async function show(position) {
  const { latitude, longitude } = position.coords;
  const url = `${form.dataset.locate}?lat=${latitude}&lon=${longitude}`;
  try {
    const resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await resp.json();
    if (!body.ok) {
      fail(body.message, body.code === "location_required" ? HOW_TO_ALLOW : "");
      return;
    }
    lat.value = latitude;
    lon.value = longitude;
    cityEl.textContent = body.city;
    helpEl.textContent = LOCATED;
    helpEl.classList.remove("locate__help--problem");
    submit.disabled = false;
  } catch (err) {
    fail(_("网络异常，无法确认定位城市"), _("请检查网络后点击“重新定位”。"));
  }
}

function locate() {
  button.textContent = _("重新定位");
  cityEl.textContent = _("正在定位…");
  if (!("geolocation" in navigator)) {
    fail(_("当前浏览器不支持定位，无法申请。"), _("请换用系统自带浏览器，或前往车站公安制证窗口办理。"));
    return;
  }
  navigator.geolocation.getCurrentPosition(show, (err) => {
    fail(err.code === err.PERMISSION_DENIED ? _("定位权限未开启") : _("定位失败"));
  }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
}

button.addEventListener("click", locate);
// Already allowed: locate now, nothing is asked (also when the form comes back with an error to correct).
navigator.permissions?.query({ name: "geolocation" }).then((status) => {
  if (status.state === "granted") locate();
}).catch(() => {});
