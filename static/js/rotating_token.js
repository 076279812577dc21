// Shared by the credential pages (travel ID QR, e-licence): poll a no-store token endpoint when the current 60 s
// window ends (the answer's refresh_in), at the latest every `maxWaitSeconds`, and on demand (刷新). `onAnswer`
// gets (response, body) of every poll; `onTick` runs every 250 ms; `onError` when the network fails.
export function startRotatingToken({ url, onAnswer, onTick = () => {}, onError = () => {}, maxWaitSeconds = Infinity }) {
  let nextPoll = 0;   // performance.now() ms of the next poll
  let loading = false;
  let timer = null;

  async function refresh() {
    if (loading) return;
    loading = true;
    try {
      const resp = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      const body = await resp.json();
      const wait = Math.min(Number(body.refresh_in ?? maxWaitSeconds), maxWaitSeconds);
      nextPoll = performance.now() + (Number.isFinite(wait) ? wait : 60) * 1000;
      onAnswer(resp, body);
    } catch (err) {
      nextPoll = performance.now() + 5000;
      onError(err);
    } finally {
      loading = false;
    }
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
