// Suishen service worker. Version {{ version }}.
// App shell: cache-first. Navigations: network-first with the offline page as fallback.
// Credentials are online-only: no credential page, API answer, token or scan result is ever put into a cache.
// The officer scan page works offline (issue 17): when it asks ("keep-scan-page") this keeps a fresh copy of the page
// (it holds nothing personal) with its scripts and decoders, and always the last good public keys and status list
// (network first); a logout drops the page's copy.
const CACHE = "suishen-shell-{{ version }}";
const SHELL = {{ shell | tojson }};
const OFFLINE_URL = "{{ offline_url }}";
const SCAN_CACHE = "suishen-scan-{{ version }}";
const SCAN_PAGE = "{{ scan_url }}";
const SCAN_FILES = {{ scan_files | tojson }};
const TRUST_CACHE = "suishen-trust";
const TRUST = {{ trust_urls | tojson }};
const LOGOUT = "{{ logout_url }}";

async function keepScanPage() {
  const response = await fetch(SCAN_PAGE, { credentials: "same-origin", cache: "no-store" });
  // Signed out (redirected to the sign-in page) or refused: keep nothing.
  if (!response.ok || response.redirected || response.type !== "basic") return;
  const cache = await caches.open(SCAN_CACHE);
  await cache.addAll(SCAN_FILES);
  await cache.put(SCAN_PAGE, response);
}

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "keep-scan-page") event.waitUntil(keepScanPage());
});

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (![CACHE, SCAN_CACHE, TRUST_CACHE].includes(key)) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === LOGOUT) {
    event.waitUntil(caches.delete(SCAN_CACHE));   // the request itself goes on to the network
    return;
  }
  if (request.method !== "GET") return;

  if (request.mode === "navigate") {
    event.respondWith((async () => {
      try {
        return await fetch(request);
      } catch (err) {
        const kept = url.pathname === SCAN_PAGE && await caches.match(SCAN_PAGE, { cacheName: SCAN_CACHE });
        const offline = kept || await caches.match(OFFLINE_URL);
        return offline || Response.error();
      }
    })());
    return;
  }

  if (TRUST.includes(url.pathname)) {
    event.respondWith((async () => {
      const cache = await caches.open(TRUST_CACHE);
      try {
        const response = await fetch(request);
        if (response.ok) await cache.put(url.pathname, response.clone());
        return response;
      } catch (err) {
        return (await cache.match(url.pathname)) || Response.error();
      }
    })());
    return;
  }

  if (url.pathname.startsWith("/static/")) {
    event.respondWith((async () => {
      const hit = await caches.match(request);
      if (hit) return hit;
      const response = await fetch(request);
      if (response.ok && response.type === "basic") {
        const cache = await caches.open(CACHE);
        await cache.put(request, response.clone());
      }
      return response;
    })());
  }
  // Anything else (API, QR tokens, credential data) goes to the network and is never stored.
});

self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (err) { data = {body: event.data && event.data.text()}; }
  event.waitUntil(self.registration.showNotification(data.title || "随身证", {
    body: data.body || "", icon: "/static/icons/icon-192.png", data: {url: data.url || "/"},
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url || "/"));
});
