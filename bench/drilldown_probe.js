/* Init script of bench/bench_browser_drilldown.py (Playwright add_init_script, every page before its own
 * scripts): counts pending fetch/XHR, timestamps DOM changes, and tells when a drill-down step has settled.
 * The same probe runs on SafeGrid's command map and on the bare Leaflet page, so "settled" means the same. */
(function () {
  "use strict";
  const P = (window.__probe = { pending: 0, lastNet: 0, lastChange: 0, requests: [], clickAt: null });
  const now = () => performance.now();

  /* A fetch is pending from the call until its body has been read (json/text/…) or it failed. */
  const nativeFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const rec = { url: String((input && input.url) || input), start: now(), end: null };
    P.requests.push(rec);
    P.pending += 1;
    let done = false;
    const finish = () => {
      if (!done) { done = true; P.pending -= 1; rec.end = P.lastNet = now(); }
    };
    return nativeFetch(input, init).then((resp) => {
      if (resp.status === 204 || resp.status === 304) { finish(); return resp; }  // no body to read (PreventUpdate)
      for (const m of ["json", "text", "arrayBuffer", "blob"]) {
        const read = resp[m].bind(resp);
        resp[m] = () => read().finally(finish);
      }
      setTimeout(finish, 5000);  // a body nobody reads: stop waiting for it
      return resp;
    }, (err) => { finish(); throw err; });
  };
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__rec = { url: String(url), start: null, end: null };
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    const rec = this.__rec || { url: "?", start: null, end: null };
    rec.start = now();
    P.requests.push(rec);
    P.pending += 1;
    this.addEventListener("loadend", () => { P.pending -= 1; rec.end = P.lastNet = now(); });
    return send.apply(this, arguments);
  };

  /* DOM changes, except hover tooltips (the pointer rests where it clicked) and basemap tiles. */
  const ignored = (node) => {
    const el = node && (node.nodeType === 1 ? node : node.parentElement);
    return !!(el && el.closest && el.closest(".leaflet-tooltip, .leaflet-tile-pane"));
  };
  /* A record counts unless it only adds or removes ignored nodes (a hover tooltip opening or closing in the
   * tooltip pane) or changes something inside one. */
  const counts = (r) => (r.type === "childList" ? [...r.addedNodes, ...r.removedNodes].some((n) => !ignored(n))
    : !ignored(r.target));
  const observer = new MutationObserver((records) => {
    if (records.some(counts)) { P.lastChange = now(); }
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });

  window.addEventListener("click", (e) => { if (e.isTrusted) { P.clickAt = e.timeStamp; } }, true);
  window.addEventListener("submit", (e) => {
    sessionStorage.setItem("__probeSubmit", String(performance.timeOrigin + e.timeStamp));
  }, true);

  /* The unit codes of the drawn unit polygons (class cm-unit-<code>, on both pages). */
  P.drawnUnits = () => {
    const codes = new Set();
    for (const el of document.querySelectorAll("path.cm-unit")) {
      const m = /cm-unit-(\d+)/.exec(el.getAttribute("class") || "");
      if (m) { codes.add(m[1]); }
    }
    return [...codes].sort();
  };

  /* A point inside the polygon of unit `code` that a click reaches (not covered by a marker or a control). */
  P.clickPoint = (code) => {
    const path = document.querySelector("path.cm-unit-" + code);
    if (!path) { return null; }
    const r = path.getBoundingClientRect();
    const cx = r.left + r.width / 2;
    const cy = r.top + r.height / 2;
    let best = null;
    for (let i = 1; i < 16; i += 1) {
      for (let j = 1; j < 16; j += 1) {
        const x = r.left + (r.width * i) / 16;
        const y = r.top + (r.height * j) / 16;
        if (document.elementFromPoint(x, y) === path) {
          const d = (x - cx) ** 2 + (y - cy) ** 2;
          if (!best || d < best.d) { best = { x: x, y: y, d: d }; }
        }
      }
    }
    return best && { x: best.x, y: best.y };
  };

  /* Resolve when the page shows unit `code` settled: its panel (`panel` selector with data-unit=code), the
   * unit polygons exactly `units`, a point request started after `since` answered and read, nothing pending,
   * and no DOM change for `quiet` ms. Settled time = the later of the last DOM change and the last answer. */
  P.settled = (opts) => new Promise((resolve) => {
    const since = opts.since == null ? (P.clickAt == null ? 0 : P.clickAt) : opts.since;
    const want = (opts.units || []).slice().sort().join(",");
    const first = {};
    const mark = (k, ok) => { if (ok && first[k] == null) { first[k] = now() - since; } return ok; };
    const tick = () => {
      const t = now();
      const panel = mark("panel", !!document.querySelector(opts.panel + "[data-unit='" + opts.code + "']"));
      const units = mark("units", P.drawnUnits().join(",") === want);
      const points = mark("points", !opts.points || P.requests.some(
        (q) => q.url.indexOf("/api/map/points") >= 0 && q.start >= since && q.end != null));
      const last = Math.max(P.lastChange, P.lastNet);
      if (panel && units && points && P.pending === 0 && t - last >= opts.quiet) {
        const asked = P.requests.filter((q) => q.start >= since).map((q) => ({
          url: q.url, start: +(q.start - since).toFixed(1), end: q.end == null ? null : +(q.end - since).toFixed(1),
        }));
        resolve({ ms: Math.max(last, since) - since, first: first, requests: asked,
                  settledEpoch: performance.timeOrigin + Math.max(last, since) });
        return;
      }
      if (t - since > opts.timeout) {
        resolve({ ms: null, first: first, timeout: true, drawn: P.drawnUnits(), pending: P.pending,
                  panel: !!document.querySelector(opts.panel + "[data-unit='" + opts.code + "']") });
        return;
      }
      setTimeout(tick, 5);
    };
    tick();
  });
}());
