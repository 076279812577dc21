// Officer scan page: read the credential QR with the rear camera (jsQR, vendored in static/vendor) or from the
// manual entry field (a QR link or the e-licence barcode's digits), POST it to /api/v1/verify with the officer
// session, and show a large 有效 / 无效 with what the officer's role may see (traffic police: the licence record).
const root = document.getElementById("scan");
const video = document.getElementById("scan-video");
const status = document.getElementById("scan-status");
const contextSelect = document.getElementById("scan-context");
const manual = document.getElementById("scan-manual");
const codeInput = document.getElementById("scan-code");
const verdict = document.getElementById("verdict");
const el = (id) => document.getElementById(id);

const canvas = document.createElement("canvas");
const ctx = canvas.getContext("2d", { willReadFrequently: true });
const SCAN_WIDTH = 640;          // decode at most this wide: enough for a phone-screen QR, cheap on a phone
let stream = null;
let paused = false;              // true while a result is shown or a request is in flight
let lastText = "";
let lastAt = 0;

function setStatus(text) { status.textContent = text; }

function show(node, visible) { node.hidden = !visible; }

function render(kind, body) {
  verdict.className = `verdict verdict--${kind}`;
  const mark = el("verdict-mark");
  const reason = el("verdict-reason");
  const details = el("verdict-body");
  mark.textContent = { valid: "有效", invalid: "无效", unknown: "状态无法确认" }[kind];
  reason.textContent = body.message || "";
  show(reason, kind !== "valid" && Boolean(body.message));
  const cred = body.credential;
  show(details, Boolean(cred && cred.holder));
  if (cred && cred.holder) {
    const detail = body.detail || {};
    el("verdict-type").textContent = detail.credential_label || cred.type;
    el("verdict-name").textContent = cred.holder.name;
    el("verdict-id").textContent = cred.holder.id_number_masked || "";
    el("verdict-status").textContent = detail.status_label || cred.status || "";
    el("verdict-status").classList.toggle("verdict__bad", !body.valid);
    el("verdict-until").textContent = detail.valid_until_text || cred.valid_until || "";
    const portrait = el("verdict-portrait");
    if (detail.portrait) { portrait.src = detail.portrait; } else { portrait.removeAttribute("src"); }
    show(portrait, Boolean(detail.portrait));
    const ticket = detail.ticket_category;
    el("verdict-ticket").textContent = ticket ? `${ticket.label} · 今日 ${ticket.age} 周岁` : "";
    show(el("verdict-ticket"), Boolean(ticket));
    show(el("verdict-ticket-dt"), Boolean(ticket));
    renderLicence(detail.licence);
  }
  show(verdict, true);
  verdict.focus({ preventScroll: true });
  verdict.scrollIntoView({ block: "start", behavior: "instant" });
}

// The licence record, for officers whose role checks licences (the API sends detail.licence only to them).
function renderLicence(licence) {
  show(el("verdict-licence"), Boolean(licence));
  // The licence's own 有效期限 replaces the generic 有效期至 row.
  show(el("verdict-until-dt"), !licence);
  show(el("verdict-until"), !licence);
  if (!licence) return;
  el("licence-class").textContent = licence.licence_class;
  el("licence-validity").textContent = `${licence.valid_from} 至 ${licence.valid_until || "长期"}`;
  el("licence-authority").textContent = licence.issuing_authority;
  el("licence-file").textContent = licence.file_number;
  el("licence-points").textContent = `${licence.points} 分（记分周期 12 分）`;
  const status = el("licence-status");
  status.textContent = licence.record_status;
  status.classList.toggle("verdict__bad", licence.record_status !== "正常");
}

async function verify(text) {
  paused = true;
  setStatus("正在核验…");
  let resp;
  try {
    resp = await fetch(root.dataset.api, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ qr: text, context: contextSelect.value || null }),
    });
  } catch (err) {
    render("unknown", { message: "网络异常，无法确认证件状态，请重试。" });
    return;
  }
  let body = {};
  try { body = await resp.json(); } catch (err) { body = {}; }
  if (resp.status === 200) {
    render(body.valid ? "valid" : "invalid", body);
  } else if (resp.status === 503) {
    render("unknown", { message: body.message || "系统暂时无法确认证件状态，请稍后再试或人工核验。" });
  } else if (resp.status === 401 || resp.status === 403) {
    window.location.reload();    // session ended: the page sends the officer to sign in again
  } else {
    render("invalid", { message: body.message || "核验失败，请重试。" });
  }
  setStatus(stream ? "已暂停扫描" : "摄像头不可用，请手工输入");
}

function tick() {
  if (!stream) return;
  if (!paused && video.readyState >= video.HAVE_ENOUGH_DATA && video.videoWidth) {
    const scale = Math.min(1, SCAN_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    const now = performance.now();
    // The same code read again within 3 s is the same scan, not a new one.
    if (code && code.data && (code.data !== lastText || now - lastAt > 3000)) {
      lastText = code.data;
      lastAt = now;
      verify(code.data);
    }
  }
  requestAnimationFrame(tick);
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof window.jsQR !== "function") {
    setStatus("此浏览器无法使用摄像头，请手工输入");
    return;
  }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
  } catch (err) {
    stream = null;
    setStatus("无法打开摄像头（请允许使用摄像头），可手工输入");
    return;
  }
  video.srcObject = stream;
  await video.play().catch(() => {});
  setStatus("请将二维码放入框内");
  requestAnimationFrame(tick);
}

function stopCamera() {
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
}

el("verdict-next").addEventListener("click", () => {
  show(verdict, false);
  paused = false;
  lastText = "";
  setStatus(stream ? "请将二维码放入框内" : "摄像头不可用，请手工输入");
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
startCamera();
