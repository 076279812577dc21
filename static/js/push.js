// 消息推送: subscribe this browser (the installed PWA) to Web Push with the server's VAPID public key, and
// send the subscription to the server. Shown only where the browser supports it.
import { _ } from "./i18n.js";

(function () {
  "use strict";
  var box = document.getElementById("push");
  var button = document.getElementById("push-toggle");
  var state = document.getElementById("push-state");
  if (!box || !button || !("serviceWorker" in navigator) || !("PushManager" in window)) {
    if (state) state.textContent = _("当前浏览器不支持消息推送，消息仍会通过短信和本页通知您。");
    return;
  }
  var subscribed = box.getAttribute("data-subscribed") === "true";

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": box.getAttribute("data-csrf")},
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.json();
    });
  }

  function show(on, message) {
    subscribed = on;
    button.textContent = on ? _("关闭消息推送") : _("开启消息推送");
    state.textContent = message;
  }

  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription().then(function (existing) {
        if (subscribed) {
          var endpoint = existing ? existing.endpoint : "";
          return (existing ? existing.unsubscribe() : Promise.resolve()).then(function () {
            return post(box.getAttribute("data-unsubscribe"), {endpoint: endpoint});
          }).then(function () { show(false, _("已关闭消息推送。")); });
        }
        return Notification.requestPermission().then(function (permission) {
          if (permission !== "granted") {
            show(false, _("您未允许通知，无法推送消息。可在浏览器设置中允许本站通知后重试。"));
            return null;
          }
          return (existing || registration.pushManager.subscribe({
            userVisibleOnly: true, applicationServerKey: keyBytes(box.getAttribute("data-key")),
          })).then(function (subscription) {
            return post(box.getAttribute("data-subscribe"), subscription.toJSON());
          }).then(function () { show(true, _("已开启：审核结果等消息将推送到本机。")); });
        });
      });
    }).catch(function () {
      state.textContent = _("开启消息推送失败，请稍后重试。消息仍会通过短信和本页通知您。");
    }).then(function () { button.disabled = false; });
  });
})();
