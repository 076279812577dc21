// Shared by the credential pages (travel ID QR, e-licence): poll a no-store token endpoint when the current 60 s
// window ends (the answer's refresh_in), at the latest every `maxWaitSeconds`, and on demand (刷新). `onAnswer`
// gets (response, body) of every poll; `onTick` runs every 250 ms; `onError` when the network fails.
import { _ } from "./i18n.js";
export function startRotatingToken({ url, onAnswer, onTick = () => {}, onError = () => {}, maxWaitSeconds = Infinity }) {
  let nextPoll = 0;   // performance.now() ms of the next poll
  let inflight = null;
  let timer = null;

  // Resolves true when an answer came (whatever it said), false when the network failed. A call while a poll is
  // under way gets that poll's promise: 刷新 pressed during an automatic refresh waits for it.
  function refresh() {
    if (inflight) return inflight;
    inflight = (async () => {
      try {
        const resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
        const body = await resp.json();
        const wait = Math.min(Number(body.refresh_in ?? maxWaitSeconds), maxWaitSeconds);
        nextPoll = performance.now() + (Number.isFinite(wait) ? wait : 60) * 1000;
        onAnswer(resp, body);
        return true;
      } catch (err) {
        nextPoll = performance.now() + 5000;
        onError(err);
        return false;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  function tick() {
    const now = performance.now();
    onTick(now);
    if (now >= nextPoll) refresh();
  }

  refresh().then(() => { tick(); timer = setInterval(tick, 250); });
  window.addEventListener("pagehide", () => clearInterval(timer));
  return { refresh };
}

const SHOWN_MS = 3000;
const timeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit",
});

// 刷新 that shows it refreshed (issue 16): the button says 正在刷新… while the request runs, then 已刷新 and the
// time (or that it failed) for a few seconds; the codes in `codes` blink once; a polite live region says the same
// to a screen reader. Nothing moves: the words change inside the button.
export function bindRefreshButton(button, poller, codes) {
  const label = button.textContent;
  const status = document.createElement("p");
  status.className = "sr-only";
  status.setAttribute("role", "status");
  button.after(status);
  let restore = null;

  button.addEventListener("click", async () => {
    clearTimeout(restore);
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.textContent = _("正在刷新…");
    const ok = await poller.refresh();
    button.disabled = false;
    button.removeAttribute("aria-busy");
    const words = ok ? _("已刷新 %(time)s", {time: timeFormat.format(new Date())}) : _("刷新失败，请检查网络后重试");
    button.textContent = words;
    button.dataset.refreshed = ok ? "ok" : "failed";
    status.textContent = words;
    if (ok && codes) {
      codes.classList.remove("just-refreshed");
      void codes.offsetWidth;  // restart the animation when pressed twice in a row
      codes.classList.add("just-refreshed");
    }
    restore = setTimeout(() => { button.textContent = label; delete button.dataset.refreshed; }, SHOWN_MS);
  });
}
