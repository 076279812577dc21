// QR page: fetch a fresh signed token at every 60 s window (and on 刷新), count down, and send the user
// to 实人核验 again after 30 minutes. Nothing here is cached: the token endpoint answers no-store.
const card = document.getElementById("cert");
const img = document.getElementById("qr-img");
const countdown = document.getElementById("qr-countdown");
const refreshBtn = document.getElementById("qr-refresh");
const note = document.getElementById("reverify-note");
let deadline = 0;   // when the current QR's window ends (performance.now() ms)
let reverifyAt = performance.now() + Number(card.dataset.reverifyIn) * 1000;
let timer = null;
let loading = false;

async function refresh() {
  if (loading) return;
  loading = true;
  try {
    const resp = await fetch(card.dataset.tokenUrl, { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await resp.json();
    if (resp.status === 403 && body.reverify_url) {
      window.location.assign(body.reverify_url);
      return;
    }
    if (!resp.ok || body.state !== "valid") {
      window.location.reload();  // expired or revoked: the page shows what to do
      return;
    }
    img.src = body.qr;
    img.dataset.token = body.token;
    deadline = performance.now() + body.refresh_in * 1000;
    reverifyAt = performance.now() + body.reverify_in * 1000;
  } catch (err) {
    countdown.textContent = "网络异常";
  } finally {
    loading = false;
  }
}

function tick() {
  const now = performance.now();
  if (now >= reverifyAt) {
    window.location.assign(card.dataset.reverifyUrl);
    return;
  }
  const left = Math.max(0, Math.ceil((deadline - now) / 1000));
  countdown.textContent = String(left);
  const minutes = Math.ceil((reverifyAt - now) / 60000);
  note.textContent = `为保障安全，${minutes} 分钟后需重新进行实人核验（不占用申请次数）。`;
  if (now >= deadline) refresh();
}

if (img) {
  refreshBtn.addEventListener("click", refresh);
  refresh().then(() => { tick(); timer = setInterval(tick, 250); });
  window.addEventListener("pagehide", () => clearInterval(timer));
}
