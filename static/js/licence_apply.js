// Apply / replace photo forms: show only the input of the chosen photo source, and for 拍摄照片 a live camera
// shot — the front camera's preview in the page, 拍照 draws the frame to a canvas and puts the JPEG into the form's
// file input, so the server gets the same upload (and runs the same checks) as from the file picker. Without
// getUserMedia, or when the camera is refused, the file input (capture=user) stays the way to take the photo.
// The camera opens only on the user's gesture (choosing 拍摄照片, or 打开摄像头 when it is preselected), never just
// because a page with the form loaded (the show page has it preselected under the licence).
import { _ } from "./i18n.js";
const JPEG_QUALITY = 0.92;
const cameras = [];

function liveCamera(form) {
  const box = form.querySelector("[data-live-camera]");
  const input = form.querySelector('input[type="file"][name="camera"]');
  if (!box || !input || !navigator.mediaDevices?.getUserMedia || typeof DataTransfer !== "function") return null;
  const video = box.querySelector("[data-camera-video]");
  const preview = box.querySelector("[data-camera-preview]");
  const status = box.querySelector("[data-camera-status]");
  const open = box.querySelector("[data-camera-open]");
  const take = box.querySelector("[data-camera-take]");
  const retake = box.querySelector("[data-camera-retake]");
  const frame = box.querySelector(".camera-shot__frame");
  const buttons = box.querySelector(".camera-shot__buttons");
  let stream = null;
  let starting = false;
  let shotUrl = null;

  function useFileInput(message) {
    box.hidden = false;
    frame.hidden = true;
    buttons.hidden = true;
    status.textContent = message;
    input.hidden = false;
  }

  async function start() {
    if (stream || starting || input.files.length) return;
    starting = true;
    box.hidden = false;
    open.hidden = true;
    status.textContent = _("正在打开摄像头…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false,
      });
    } catch (err) {
      stream = null;
      starting = false;
      useFileInput(_("无法打开摄像头（请允许使用摄像头），也可以点击下方按钮拍摄或选择照片。"));
      return;
    }
    starting = false;
    if (!active()) { stop(); return; }   // the source changed while the camera was opening
    input.hidden = true;                  // the shot goes into it; the picker would only confuse
    frame.hidden = false;
    buttons.hidden = false;
    video.srcObject = stream;
    video.hidden = false;
    preview.hidden = true;
    await video.play().catch(() => {});
    status.textContent = _("请正对镜头，准备好后点击“拍照”");
    take.hidden = false;
    retake.hidden = true;
  }

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
  }

  function active() {
    return form.querySelector('input[name="photo_source"]:checked')?.value === "camera";
  }

  take.addEventListener("click", () => {
    if (!stream || !video.videoWidth) return;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob((blob) => {
      if (!blob) { status.textContent = _("拍照失败，请重试。"); return; }
      const files = new DataTransfer();
      files.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
      input.files = files.files;
      if (shotUrl) URL.revokeObjectURL(shotUrl);
      shotUrl = URL.createObjectURL(blob);
      preview.src = shotUrl;
      preview.hidden = false;
      video.hidden = true;
      stop();
      status.textContent = _("已拍照（%(width)s×%(height)s），提交后将检查照片是否符合要求。", {width: canvas.width, height: canvas.height});
      take.hidden = true;
      retake.hidden = false;
    }, "image/jpeg", JPEG_QUALITY);
  });

  open.addEventListener("click", () => start());

  retake.addEventListener("click", () => {
    input.value = "";
    start();
  });

  form.addEventListener("submit", (event) => {
    if (active() && !input.files.length) {
      event.preventDefault();
      status.textContent = _("请先点击“拍照”。");
      (stream ? take : input).focus();
    }
  });

  return {
    update(byUser) {
      if (!active()) { stop(); box.hidden = true; return; }
      box.hidden = false;   // a shot already taken stays shown
      if (byUser) { start(); return; }
      if (!stream && !input.files.length) {
        status.textContent = _("点击“打开摄像头”拍摄本人照片。");
        open.hidden = false;
      }
    },
    stop,
    resume() { if (active() && frame.hidden === false && !input.files.length) start(); },
  };
}

for (const form of document.querySelectorAll("form")) {
  const radios = form.querySelectorAll('input[name="photo_source"]');
  if (!radios.length) continue;
  const camera = liveCamera(form);
  if (camera) cameras.push(camera);
  const update = (event) => {
    const chosen = form.querySelector('input[name="photo_source"]:checked')?.value;
    for (const field of form.querySelectorAll("[data-source]")) field.hidden = field.dataset.source !== chosen;
    camera?.update(Boolean(event));
  };
  for (const radio of radios) radio.addEventListener("change", update);
  update();
}

// Release the camera when the page goes away (also into the back-forward cache), and reopen it on return.
window.addEventListener("pagehide", () => cameras.forEach((camera) => camera.stop()));
window.addEventListener("pageshow", (event) => { if (event.persisted) cameras.forEach((camera) => camera.resume()); });
