// App shell: register the service worker (scope "/"), served from /sw.js.
const swUrl = document.body.dataset.sw;
if ("serviceWorker" in navigator && swUrl) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register(swUrl, { scope: "/" }).catch((err) => {
      console.warn("service worker registration failed", err);
    });
  });
}
