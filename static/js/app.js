// App shell: register the service worker (scope "/"), served from /sw.js.
// A page that answers a POST (a form shown again with its errors) becomes its GET address in the history, so Back
// and reload load that page instead of asking to resubmit the form (base.html's data-history-url).
const historyUrl = document.body.dataset.historyUrl;
if (historyUrl) history.replaceState(history.state, "", historyUrl);

const swUrl = document.body.dataset.sw;
if ("serviceWorker" in navigator && swUrl) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register(swUrl, { scope: "/" }).catch((err) => {
      console.warn("service worker registration failed", err);
    });
  });
}
