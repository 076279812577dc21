// 实人核验 page: camera → prompts (face, blink, turn) → colour flash → frames to the server, which queues the
// decision; the page then polls its status (排队中，前面还有 N 人 / 正在核验) until it is decided.
// Data comes from data-* attributes (CSP: script-src 'self', no inline script).
import { _ } from "./i18n.js";

const root = document.getElementById("proofing");
const FPS = 8;
const BLINK_MS = 3000;          // the blink phase: ~3 s holds at least one natural blink
const BLINK_MS_WITH_TURN = 2000; // 16 frames, then 12 of the turn and 16 of the flash: 44 (the server takes 48)
const TURN_MS = 1500;
const WARMUP_MS = 400;          // the first frames after the stream starts can be empty
const POSITION_MS = 1200;       // time to put the face in the oval before capturing
const FRAME_WIDTH = 640;
const JPEG_QUALITY = 0.8;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Capture times are reported in this clock (ms since the epoch, page's own): the server checks them against the
// instants it revealed each flash step.
const clock = () => performance.timeOrigin + performance.now();
const sleepUntil = (at) => sleep(Math.max(0, at - clock()));
const POLL_MS = 1000;
const POLL_GIVE_UP_MS = 5 * 60 * 1000;  // the server ends every decision well before this (its time budget)

function cameraErrorMessage(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return _("无法使用摄像头：您拒绝了摄像头权限。请点击地址栏左侧的锁形图标（或在浏览器“网站设置”中）允许本网站使用摄像头，然后刷新本页重试。");
    case "NotFoundError":
    case "OverconstrainedError":
      return _("未找到可用的前置摄像头。请使用带摄像头的手机进行核验，或改用其他方式办理。");
    case "NotReadableError":
    case "AbortError":
      return _("摄像头正被其他应用占用。请关闭正在使用摄像头的应用后刷新本页重试。");
    default:
      return _("无法打开摄像头。请确认浏览器已允许使用摄像头，然后刷新本页重试。");
  }
}

function init() {
  if (!root) return;
  if (root.dataset.waiting === "true") {
    const cfg = JSON.parse(root.dataset.config);
    makeWaiter(cfg)(cfg.statusUrl);
    return;
  }
  if (root.dataset.open !== "true") return;
  const cfg = JSON.parse(root.dataset.config);
  const csrf = root.dataset.csrf;
  const plan = cfg.plan; // no colours: each is revealed by the server when its step starts
  const colourOn = cfg.checks.includes("colour");

  const el = (id) => document.getElementById(id);
  const intro = el("proofing-intro");
  const startButton = el("proofing-start");
  const stage = el("proofing-stage");
  const video = el("proofing-video");
  const prompt = el("proofing-prompt");
  const progress = el("proofing-progress");
  const stepText = el("proofing-step");
  const flash = el("proofing-flash");
  const flashText = el("proofing-flash-text");
  const message = el("proofing-message");
  const oval = root.querySelector(".proofing__oval");

  const steps = [_("请将面部置于框内"), _("请眨眨眼")];
  if (plan.turn) steps.push(_("请%(direction)s转头", {direction: cfg.turnNames[plan.turn]}));
  if (colourOn) steps.push(_("炫彩检测"));
  steps.push(_("正在核验"));

  let stream = null;
  const canvas = document.createElement("canvas");

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach((track) => track.stop());
      stream = null;
    }
    video.srcObject = null;
  }
  window.addEventListener("pagehide", stopCamera);

  function say(text, step) {
    prompt.textContent = text;
    if (step !== undefined) {
      stepText.textContent = _("第 %(step)s 步，共 %(total)s 步", {step: step + 1, total: steps.length});
      progress.value = Math.round((step / steps.length) * 100);
    }
  }

  function fail(text, { title = null, allowRetry = true, ...options } = {}) {
    stopCamera();
    if (title) el("proofing-result-title").textContent = title;
    flash.hidden = true;
    stage.hidden = true;
    intro.hidden = true;
    showResult(text, { allowRetry, ...options });
    message.focus?.();
  }

  // Draws the current camera frame (synchronously: its capture time is now) and encodes it.
  function grab(times) {
    const width = Math.min(FRAME_WIDTH, video.videoWidth);
    const height = Math.round((video.videoHeight * width) / video.videoWidth);
    canvas.width = width;
    canvas.height = height;
    if (times) times.push(clock());
    canvas.getContext("2d").drawImage(video, 0, 0, width, height);
    return new Promise((resolve, reject) => {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("empty frame"))), "image/jpeg", JPEG_QUALITY);
    });
  }

  // One flash step at a time: ask the server for its colour, paint it, grab a frame at once (the light cannot be
  // on the face yet) and at the capture ages, hold it as long as told, then ask for the next.
  async function flashSteps(into, timing) {
    for (let step = 0; step < plan.steps; step += 1) {
      const sent = clock();
      const response = await fetch(cfg.flashUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ step }),
      });
      const received = clock();
      const shown = await response.json().catch(() => null);
      if (!response.ok || !shown || !shown.rgb) {
        throw Object.assign(new Error("flash refused"), { message: (shown && shown.message) || "", refused: true });
      }
      const [r, g, b] = shown.rgb;
      flash.style.backgroundColor = `rgb(${r}, ${g}, ${b})`;
      flashText.textContent = _("请保持不动（%(colour)s）", {colour: shown.name});
      flash.hidden = false;
      const painted = clock();
      timing.steps.push([sent, received, painted]);
      for (const age of cfg.captureAgesMs) {
        await sleepUntil(painted + age);
        into.push(grab(timing.frames)); // drawn now; encoded in the background (toBlob copies the canvas first)
      }
      await sleepUntil(painted + shown.hold_ms);
    }
  }

  async function capture(count, intervalMs, into) {
    for (let i = 0; i < count; i += 1) {
      const started = performance.now();
      into.push(await grab());
      await sleep(Math.max(0, intervalMs - (performance.now() - started)));
    }
  }

  async function waitForVideo() {
    const deadline = performance.now() + 5000;
    while (!(video.videoWidth > 0 && video.readyState >= 2)) {
      if (performance.now() > deadline) throw Object.assign(new Error("no video"), { name: "NotReadableError" });
      await sleep(50);
    }
  }

  async function run() {
    startButton.disabled = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail(_("当前浏览器无法使用摄像头。请使用手机系统浏览器或微信等最新版本打开本页（需 HTTPS）。"), {
        allowRetry: false, title: _("无法使用摄像头") });
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
      intro.hidden = true;
      stage.hidden = false;
      video.srcObject = stream;
      await video.play().catch(() => {});
      await waitForVideo();
    } catch (error) {
      fail(cameraErrorMessage(error), { allowRetry: false, title: _("无法使用摄像头") });
      return;
    }

    try {
      say(steps[0], 0);
      await sleep(WARMUP_MS + POSITION_MS);
      oval.classList.add("proofing__oval--active");

      const blink = [];
      const colour = [];
      const timing = { steps: [], frames: [] };
      const interval = 1000 / FPS;
      say(_("请眨眨眼"), 1);
      await capture(Math.round(((plan.turn ? BLINK_MS_WITH_TURN : BLINK_MS) / 1000) * FPS), interval, blink);
      if (plan.turn) {
        say(_("请%(direction)s转头，再转回正面", {direction: cfg.turnNames[plan.turn]}), 2);
        await capture(Math.round((TURN_MS / 1000) * FPS), interval, blink);
      }

      if (colourOn) {
        say(_("请保持不动，屏幕将闪烁颜色"), steps.indexOf(_("炫彩检测")));
        const pending = [];
        await flashSteps(pending, timing);
        flash.hidden = true;
        colour.push(...(await Promise.all(pending)));
      }

      stopCamera();
      say(_("正在核验…"), steps.length - 1);
      const body = new FormData();
      blink.forEach((blob, i) => body.append("blink", blob, `blink-${i + 1}.jpg`));
      colour.forEach((blob, i) => body.append("colour", blob, `colour-${i + 1}.jpg`));
      if (colourOn) body.append("timing", JSON.stringify(timing));
      const response = await fetch(cfg.framesUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      });
      let data = null;
      try {
        data = await response.json();
      } catch {
        data = null;
      }
      if ((response.status === 200 || response.status === 202) && data && data.status) {
        await wait(data);
      } else {
        fail((data && data.message) || _("网络或服务异常，核验未完成，请重试。"));
      }
    } catch (error) {
      fail((error && error.refused && error.message) || _("采集画面时出错，请保持网络畅通、不要离开本页，然后重新核验。"));
    }
  }

  const wait = makeWaiter(cfg, { say, fail, stage, progress });
  startButton.addEventListener("click", run);
}

// The result card: the message, 重新核验 (posting to retryUrl when given) or not, and the fallback with why.
function showResult(text, { retryUrl = null, fallbackUrl = null, fallbackMessage = null, allowRetry = false } = {}) {
  const el = (id) => document.getElementById(id);
  el("proofing-message").textContent = text;
  const retryForm = el("proofing-retry");
  if (retryUrl) retryForm.action = retryUrl;
  retryForm.hidden = !allowRetry;
  const fallback = el("proofing-fallback");
  if (fallback && fallbackUrl) {
    const why = el("proofing-fallback-text");
    if (why && fallbackMessage) why.textContent = fallbackMessage;
    fallback.hidden = false;
  }
  el("proofing-result").hidden = false;
}

// Shows the queued/deciding state in words and polls the status URL until the decision, then acts on it as the
// synchronous answer was acted on: go on after a pass, else the message with 重新核验 or the fallback.
function makeWaiter(cfg, parts = {}) {
  const el = (id) => document.getElementById(id);
  const panel = el("proofing-wait");
  const text = el("proofing-wait-text");
  const note = el("proofing-wait-note");

  function show(words) {
    if (parts.stage) parts.stage.hidden = true;
    panel.hidden = false;
    text.textContent = words;
  }

  function fail(message, options = {}) {
    panel.hidden = true;
    (parts.fail || showResult)(message, options);
  }

  function decided(data) {
    if (data.passed && data.next_url) {
      show(_("核验通过，正在跳转…"));
      // Replace, not push: the camera page of a used challenge has nothing to show again, so Back from what the
      // pass led to goes to the page before 实人核验 (issue 16).
      window.location.replace(data.next_url);
      return;
    }
    fail(data.message || _("核验未通过，请重试。"), {
      retryUrl: data.retry_url,
      fallbackUrl: data.fallback_url,
      fallbackMessage: data.fallback_message,
      allowRetry: Boolean(data.retry_url),
    });
  }

  function describe(data) {
    if (data.status === "queued") {
      const ahead = Number(data.position) || 0;
      const seconds = Number(data.wait_seconds) || 0;
      show(ahead > 0 ? _("排队中，前面还有 %(ahead)s 人", {ahead}) : _("排队中，马上轮到您"));
      note.textContent = seconds > 0 ? _("预计约 %(seconds)s 秒，请不要离开本页。", {seconds}) : _("请不要离开本页，结果出来后会自动继续。");
    } else {
      show(_("正在核验…"));
      note.textContent = _("请不要离开本页，结果出来后会自动继续。");
    }
  }

  return async function wait(first) {
    const statusUrl = typeof first === "string" ? first : first.status_url || cfg.statusUrl;
    let data = typeof first === "string" ? null : first;
    const started = performance.now();
    let misses = 0;
    while (!data || data.status !== "decided") {
      if (data) describe(data);
      else show(_("正在获取核验进度…"));
      if (performance.now() - started > POLL_GIVE_UP_MS) {
        fail(_("核验结果迟迟未返回，请重新核验。"), { allowRetry: true });
        return;
      }
      await sleep((data && data.poll_ms) || POLL_MS);
      try {
        const response = await fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
        const body = await response.json();
        if (!response.ok) {
          fail(body.message || _("无法获取核验结果，请重新核验。"), { allowRetry: false });
          return;
        }
        data = body;
        misses = 0;
      } catch {
        misses += 1;
        note.textContent = _("网络不稳定，正在重试（第 %(misses)s 次）…", {misses});
      }
    }
    decided(data);
  };
}

init();
