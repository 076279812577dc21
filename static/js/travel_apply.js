// 临时乘车身份证明 apply page: location is required; show the located city, or how to allow location.
import { _ } from "./i18n.js";

const form = document.getElementById("apply-form");
const cityEl = document.getElementById("locate-city");
const helpEl = document.getElementById("locate-help");
const submit = document.getElementById("apply-submit");
const lat = document.getElementById("latitude");
const lon = document.getElementById("longitude");

function fail(message) {
  cityEl.textContent = message;
  helpEl.hidden = false;
  submit.disabled = true;
}

async function show(position) {
  const { latitude, longitude } = position.coords;
  const url = `${form.dataset.locate}?lat=${latitude}&lon=${longitude}`;
  try {
    const resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await resp.json();
    if (!body.ok) {
      cityEl.textContent = body.message;
      helpEl.hidden = body.code !== "location_required";
      submit.disabled = true;
      return;
    }
    lat.value = latitude;
    lon.value = longitude;
    cityEl.textContent = body.city;
    helpEl.hidden = true;
    submit.disabled = false;
  } catch (err) {
    fail(_("网络异常，无法确认定位城市，请点击“重新定位”。"));
  }
}

function locate() {
  cityEl.textContent = _("正在定位…");
  if (!("geolocation" in navigator)) {
    fail(_("当前浏览器不支持定位，无法申请。"));
    return;
  }
  navigator.geolocation.getCurrentPosition(show, (err) => {
    fail(err.code === err.PERMISSION_DENIED ? _("定位权限未开启") : _("定位失败"));
  }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 60000 });
}

document.getElementById("relocate").addEventListener("click", locate);
locate();
