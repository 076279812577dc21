// Officer scan page: read the credential's code with the rear camera, or take it from the manual entry field (a QR
// link or the e-licence barcode's digits), POST it to /api/v1/verify with the officer session, and show a large
// 有效 / 无效 with what the officer's role may see (traffic police: the licence record).
//
// Offline (no network, or the server answers 503 because its database is down) the QR is verified here with the
// published keys and the signed status list (offline_verify.js; the service worker keeps page, decoders, keys and
// list), and the scan is queued in this tab (sessionStorage) and uploaded when the network is back, so the holder's
// 核验记录 stays complete. The barcode's 22 digits are an online check only.
//
// Two vendored decoders (static/vendor/) read each camera frame: jsQR the QR, ZXing's Code128 reader the
// e-licence's barcode. ZXing's QR reader was faster (1-2 ms a 640 px frame against jsQR's 5-16 ms in Chromium) but
// missed 5-10 % of clean, still QR codes of our URL form that jsQR read every time, so the QR stays with jsQR.
import { _ } from "./i18n.js";
import { loadTrust, statusTime, verifyOffline } from "./offline_verify.js";

const root = document.getElementById("scan");
const video = document.getElementById("scan-video");
const status = document.getElementById("scan-status");
const contextSelect = document.getElementById("scan-context");
const manual = document.getElementById("scan-manual");
const codeInput = document.getElementById("scan-code");
const verdict = document.getElementById("verdict");
const el = (id) => document.getElementById(id);

const ZX = window.ZXing;
const SCAN_WIDTH = 640;          // the QR is read at most this wide: enough for a phone-screen QR, and cheap
// The barcode needs horizontal resolution instead (156 modules of a few device pixels on the holder's screen; at
// 640 px a barcode across half the frame was not read): it is read from the frame at full width (up to BAR_WIDTH)
// and a quarter of its height. Squashing along the bars keeps every bar edge and averages out noise; the reader
// scans rows across the middle 78 % of the frame.
const BAR_WIDTH = 1920;
const BAR_SQUASH = 4;
const LICENCE_CODE = /^\d{22}$/;  // tokens.issue_numeric: any other Code128 is not ours
const qrFrame = grabber();
const barFrame = grabber();
const barReader = ZX ? new ZX.Code128Reader() : null;
const READY = _("请将二维码或条形码放入框内");
// The licence record's status as the page shows it: the API gives the registry's own word (a code to programs),
// as registry.rules.LICENCE_STATUS_LABELS does for the pages.
const RECORD_STATUS_LABELS = {
  "正常": _("正常"), "扣留": _("扣留"), "扣押": _("扣押"), "暂扣": _("暂扣"), "吊销": _("吊销"), "撤销": _("撤销"),
  "注销": _("注销"), "逾期未换证": _("逾期未换证"), "逾期未体检": _("逾期未体检"), "逾期未审验": _("逾期未审验"),
  "公告停止使用": _("公告停止使用"),
};
let stream = null;
let paused = false;              // true while a result is shown or a request is in flight
let lastText = "";
let lastAt = 0;

function setStatus(text) { status.textContent = text; }

function show(node, visible) { node.hidden = !visible; }

// body: the API's answer, or offline_verify's shaped like it plus `offline` (the mark's words, see renderOffline).
function render(kind, body) {
  verdict.className = `verdict verdict--${kind}`;
  const mark = el("verdict-mark");
  const reason = el("verdict-reason");
  const details = el("verdict-body");
  mark.textContent = { valid: _("有效"), invalid: _("无效"), unknown: _("状态无法确认") }[kind];
  mark.classList.toggle("verdict__mark--phrase", Boolean(body.offline) && kind !== "valid");
  if (body.offline) {
    mark.textContent = body.offline.mark;
    if (body.offline.sub) {
      const sub = document.createElement("small");
      sub.className = "verdict__sub";
      sub.textContent = body.offline.sub;
      mark.append(sub);
    }
  }
  reason.textContent = body.message || "";
  show(reason, kind !== "valid" && Boolean(body.message));
  show(el("verdict-offline"), Boolean(body.offline));
  show(el("verdict-compare"), !body.offline);   // offline there is no registry portrait to compare
  const cred = body.credential;
  show(details, Boolean(cred && cred.holder));
  if (cred && cred.holder) {
    const detail = body.detail || {};
    el("verdict-type").textContent = detail.credential_label || cred.type;
    el("verdict-name").textContent = cred.holder.name;
    // Only what the role may see of this kind of credential comes back (a railway officer scanning a licence: its
    // validity, type and masked name): rows the answer does not carry are hidden, not left blank.
    el("verdict-id").textContent = cred.holder.id_number_masked || "";
    show(el("verdict-id"), Boolean(cred.holder.id_number_masked));
    show(el("verdict-id-dt"), Boolean(cred.holder.id_number_masked));
    el("verdict-status").textContent = detail.status_label || cred.status || "";
    el("verdict-status").classList.toggle("verdict__bad", kind !== "valid");
    const until = detail.valid_until_text || ("valid_until" in cred ? cred.valid_until || _("长期") : "");
    el("verdict-until").textContent = until;
    const portrait = el("verdict-portrait");
    if (detail.portrait) { portrait.src = detail.portrait; } else { portrait.removeAttribute("src"); }
    show(portrait, Boolean(detail.portrait));
    const ticket = detail.ticket_category;
    el("verdict-ticket").textContent = !ticket ? "" : ticket.age === undefined ? ticket.label
      : _("%(label)s · 今日 %(age)s 周岁", {label: ticket.label, age: ticket.age});
    el("verdict-class").textContent = detail.licence_class || "";
    show(el("verdict-class"), Boolean(detail.licence_class));
    show(el("verdict-class-dt"), Boolean(detail.licence_class));
    show(el("verdict-ticket"), Boolean(ticket));
    show(el("verdict-ticket-dt"), Boolean(ticket));
    renderLicence(detail.licence, Boolean(until));
  }
  show(verdict, true);
  verdict.focus({ preventScroll: true });
  verdict.scrollIntoView({ block: "start", behavior: "instant" });
}

// The licence record, for officers whose role checks licences (the API sends detail.licence only to them).
function renderLicence(licence, hasUntil) {
  show(el("verdict-licence"), Boolean(licence));
  // The licence's own 有效期限 replaces the generic 有效期至 row.
  show(el("verdict-until-dt"), !licence && hasUntil);
  show(el("verdict-until"), !licence && hasUntil);
  if (!licence) return;
  el("licence-class").textContent = licence.licence_class;
  el("licence-validity").textContent = _("%(from)s 至 %(until)s", {from: licence.valid_from, until: licence.valid_until || _("长期")});
  el("licence-authority").textContent = licence.issuing_authority;
  el("licence-file").textContent = licence.file_number;
  el("licence-points").textContent = _("%(points)s 分（记分周期 12 分）", {points: licence.points});
  const status = el("licence-status");
  status.textContent = RECORD_STATUS_LABELS[licence.record_status] || licence.record_status;
  status.classList.toggle("verdict__bad", licence.record_status !== "正常");
}

async function verify(text) {
  paused = true;
  setStatus(_("正在核验…"));
  const context = contextSelect.value || null;
  let resp;
  try {
    resp = await fetch(root.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ qr: text, context }),
    });
  } catch (err) {
    await verifyHere(text, context);    // no network: verify on this device
    return;
  }
  let body = {};
  try { body = await resp.json(); } catch (err) { body = {}; }
  if (resp.status === 200) {
    render(body.valid ? "valid" : "invalid", body);
    uploadQueue();
  } else if (resp.status === 503) {
    await verifyHere(text, context);    // the server cannot tell (its database is down): verify on this device
  } else if (resp.status === 401 || resp.status === 403) {
    window.location.reload();    // session ended: the page sends the officer to sign in again
  } else {
    render("invalid", { message: body.message || _("核验失败，请重试。") });
  }
  setStatus(stream ? _("已暂停扫描") : _("摄像头不可用，请手工输入"));
}

// --- Offline: verify here, queue, upload -------------------------------------------------------------------------
const STATUS_MAX_AGE_S = Number(root.dataset.statusMaxAge) || 3600;
const QUEUE_KEY = "suishen.offline-scans";
const SHORT_REASONS = {
  malformed: _("无法识别"), bad_signature: _("签名无效"), unknown_key: _("签名密钥未知"), stale: _("二维码已过期"),
  future: _("二维码时间异常"), expired: _("证件已过有效期"), revoked: _("证件已作废"), licence_status: _("驾驶证状态异常"),
};
let trust = null;

async function refreshTrust() {
  trust = await loadTrust(root.dataset.jwks, root.dataset.statusList);
  const at = statusTime(trust.status);
  el("scan-trust").textContent = at ? _("本机证件状态列表更新于 %(at)s", {at}) : _("本机尚无证件状态列表（联网打开本页后自动获取）");
}

function queued() {
  try { return JSON.parse(sessionStorage.getItem(QUEUE_KEY) || "[]"); } catch (err) { return []; }
}

function setQueued(scans) {
  sessionStorage.setItem(QUEUE_KEY, JSON.stringify(scans));
  const pending = el("scan-pending");
  pending.textContent = scans.length ? _("离线核验 %(count)s 条待上传：联网后自动上传，请勿关闭此页面。", {count: scans.length}) : "";
  show(pending, scans.length > 0);
}

async function verifyHere(text, context) {
  if (LICENCE_CODE.test(text.replace(/[\s-]/g, ""))) {
    render("unknown", { message: _("条形码只能联网核验：请扫描二维码，或联网后重试。") });
    setStatus(stream ? _("已暂停扫描") : _("摄像头不可用，请手工输入"));
    return;
  }
  if (!trust || !trust.status) await refreshTrust();
  const result = await verifyOffline(text, trust, Date.now(), STATUS_MAX_AGE_S);
  setQueued([...queued(), { id: crypto.randomUUID(), qr: text, context, scanned_at: new Date().toISOString(),
                            valid: result.verdict === "valid", reason: result.reason }]);
  const facts = result.facts;
  const offline = result.verdict === "valid"
    ? { mark: _("有效"), sub: _("（离线核验，状态更新于 %(at)s）", {at: result.statusAt}) }
    : { mark: result.verdict === "unknown" ? _("无法确认") : _("无效：%(reason)s", {reason: SHORT_REASONS[result.reason]}) };
  const body = { offline, message: result.message, credential: null };
  if (facts) {
    body.credential = { type: facts.kind, holder: { name: facts.name } };
    body.detail = { credential_label: facts.label, valid_until_text: facts.validUntilText,
                    status_label: result.verdict === "valid" ? _("有效（离线核验）") : "" };
    if (facts.ticket) body.detail.ticket_category = { label: facts.ticket };
    if (facts.licenceClass) body.detail.licence_class = facts.licenceClass;
  }
  render(result.verdict, body);
  setStatus(stream ? _("已暂停扫描") : _("摄像头不可用，请手工输入"));
}

let uploading = false;
const UPLOAD_BATCH = 20;          // the API takes at most this many scans per request
async function uploadQueue() {
  if (uploading || !navigator.onLine || !queued().length) return;
  uploading = true;
  try {
    for (let scans = queued().slice(0, UPLOAD_BATCH); scans.length; scans = queued().slice(0, UPLOAD_BATCH)) {
      const resp = await fetch(root.dataset.offlineApi, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ scans }),
      });
      if (!resp.ok) break;             // signed out, or the server cannot tell yet: try again later
      const answer = await resp.json();
      const sent = new Set(scans.map((scan) => scan.id));  // recorded, duplicate or refused for good
      setQueued(queued().filter((scan) => !sent.has(scan.id)));
      if (!answer.recorded) break;
    }
  } catch (err) {
    // still offline: the next try comes with the "online" event or the timer
  } finally {
    uploading = false;
  }
}

function keepForOffline() {
  // The service worker keeps this page, its scripts and decoders, the keys and the status list (never a result).
  if (navigator.serviceWorker) {
    navigator.serviceWorker.ready.then((reg) => reg.active && reg.active.postMessage({ type: "keep-scan-page" }));
  }
}

function grabber() {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  // Draws the current video frame at width x height and returns its RGBA ImageData.
  return (width, height) => {
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    ctx.drawImage(video, 0, 0, width, height);
    return ctx.getImageData(0, 0, width, height);
  };
}

function readQr(image) {
  const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
  return code && code.data ? code.data : null;
}

let luma = new Uint8ClampedArray(0);   // reused: a frame is decoded before the next one is drawn

// The 22 digits of an e-licence barcode in the image, or null. NotFound, Checksum and Format exceptions mean
// "nothing readable here" (unlike Java ZXing, zxing-js gives them no common ReaderException base); anything else
// is a bug, reported without stopping the scan loop. Any other Code128 is not ours.
function readLicenceBarcode(image) {
  const { data, width, height } = image;
  if (luma.length !== width * height) luma = new Uint8ClampedArray(width * height);
  for (let i = 0, j = 0; i < luma.length; i += 1, j += 4) {
    luma[i] = (data[j] * 77 + data[j + 1] * 150 + data[j + 2] * 29) >> 8;
  }
  let text = null;
  try {
    const source = new ZX.RGBLuminanceSource(luma, width, height);
    text = barReader.decode(new ZX.BinaryBitmap(new ZX.GlobalHistogramBinarizer(source))).getText();
  } catch (err) {
    if (!(err instanceof ZX.NotFoundException || err instanceof ZX.ChecksumException
          || err instanceof ZX.FormatException)) console.error(err);
  }
  return text && LICENCE_CODE.test(text) ? text : null;
}

function readFrame() {
  const { videoWidth: w, videoHeight: h } = video;
  const qrScale = Math.min(1, SCAN_WIDTH / w);
  const qr = readQr(qrFrame(Math.round(w * qrScale), Math.round(h * qrScale)));
  if (qr) return qr;
  const barWidth = Math.min(w, BAR_WIDTH);
  return readLicenceBarcode(barFrame(barWidth, Math.max(1, Math.round((h * barWidth) / w / BAR_SQUASH))));
}

// Each new camera frame once (requestVideoFrameCallback), else every animation frame.
const [requestFrame, cancelFrame] = "requestVideoFrameCallback" in HTMLVideoElement.prototype
  ? [(callback) => video.requestVideoFrameCallback(callback), (id) => video.cancelVideoFrameCallback(id)]
  : [(callback) => requestAnimationFrame(callback), (id) => cancelAnimationFrame(id)];
let frameRequest = null;

function nextFrame() {
  // One loop only: a callback left on the video element would otherwise run a second loop after a restart.
  if (frameRequest !== null) cancelFrame(frameRequest);
  frameRequest = requestFrame(tick);
}

function tick() {
  frameRequest = null;
  if (!stream) return;
  if (!paused && video.readyState >= video.HAVE_ENOUGH_DATA && video.videoWidth) {
    const text = readFrame();
    const now = performance.now();
    // The same code read again within 3 s is the same scan, not a new one.
    if (text && (text !== lastText || now - lastAt > 3000)) {
      lastText = text;
      lastAt = now;
      verify(text);
    }
  }
  nextFrame();
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia
      || typeof window.jsQR !== "function" || !ZX) {
    setStatus(_("此浏览器无法使用摄像头，请手工输入"));
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
  } catch (err) {
    stream = null;
    setStatus(_("无法打开摄像头（请允许使用摄像头），可手工输入"));
    return;
  }
  video.srcObject = stream;
  await video.play().catch(() => {});
  setStatus(READY);
  nextFrame();
}

function stopCamera() {
  if (frameRequest !== null) cancelFrame(frameRequest);
  frameRequest = null;
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
}

el("verdict-next").addEventListener("click", () => {
  show(verdict, false);
  paused = false;
  lastText = "";
  setStatus(stream ? READY : _("摄像头不可用，请手工输入"));
});

manual.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = codeInput.value.trim();
  if (!text) { codeInput.focus(); return; }
  verify(text);
});

// Release the camera when the page goes away (also into the back-forward cache), and reopen it on return.
window.addEventListener("pagehide", stopCamera);
window.addEventListener("pageshow", (event) => { if (event.persisted) startCamera(); });
window.addEventListener("online", () => { uploadQueue(); refreshTrust(); });
setInterval(() => { if (navigator.onLine) { uploadQueue(); refreshTrust(); } }, 60_000);
setQueued(queued());
refreshTrust().then(uploadQueue);
keepForOffline();
startCamera();
