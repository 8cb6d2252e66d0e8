/* The floor of bench/bench_browser_drilldown.py: a bare Leaflet page on the app's origin that shows a unit
 * with the fewest round trips — /api/units/<code> and the children GeoJSON in parallel, fitBounds without
 * animation, then one points bundle for the viewport — and draws it. A click on a child polygon drills. */
(function () {
  "use strict";
  const cfg = document.body.dataset;
  const kinds = JSON.parse(cfg.kinds);  // [{id, min_zoom}] of the layers the command map opens with
  const q = new URLSearchParams(location.search);
  const box = document.getElementById("bare-map");
  box.style.width = (q.get("w") || "1000") + "px";
  box.style.height = (q.get("h") || "760") + "px";
  const panel = document.getElementById("bare-panel");
  const colours = { red: "#d7191c", orange: "#fdae61", yellow: "#ffe45c", blue: "#2c7bb6" };
  const esc = (t) => String(t == null ? "" : t).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const getJSON = (url) => fetch(url, { credentials: "same-origin" }).then((r) => r.json());

  const map = L.map(box, { zoomSnap: 0.25, attributionControl: false });
  const units = L.geoJSON(null, {
    style: (f) => ({ color: "#2b3a4d", weight: 1.5, opacity: 0.9, fillColor: colours[f.properties.risk] || "#ccc",
                     fillOpacity: 0.42, className: "cm-unit cm-unit-" + f.properties.code }),
    pointToLayer: (f, ll) => L.marker(ll, {
      icon: L.divIcon({ className: "cm-label", iconSize: null, html: "<span>" + esc(f.properties.label) + "</span>" }),
      interactive: false, keyboard: false, pane: "tooltipPane" }),
    onEachFeature: (f, layer) => {
      if (f.properties.kind === "unit") { layer.on("click", () => go(f.properties.code, true)); }
    },
  }).addTo(map);
  const points = L.geoJSON(null, {
    pointToLayer: (f, ll) => {
      const p = f.properties;
      if (p.n != null) {
        const size = Math.round(Math.min(54, 22 + 12 * Math.log10(p.n + 1)));
        return L.marker(ll, { icon: L.divIcon({ className: "cm-agg", iconSize: [size, size],
                                                  html: "<span>" + p.n + "</span>" }), keyboard: false });
      }
      return L.circleMarker(ll, { radius: 6, color: "#fff", weight: 1.5, fillColor: colours[p.cls] || "#888",
                                  fillOpacity: 0.95 });
    },
  }).addTo(map);

  let seq = 0;
  async function go(code, push) {
    const mine = ++seq;
    if (push) { history.pushState(null, "", "?" + new URLSearchParams({ unit: code, w: q.get("w"), h: q.get("h") })); }
    const [unit, fc] = await Promise.all([getJSON("/api/units/" + code),
                                          getJSON("/api/map/units/" + code + "/children.geojson")]);
    if (mine !== seq) { return; }
    panel.innerHTML = "<h2>" + esc(unit.name) + "</h2><p>" + esc(unit.code) + "</p><table>" +
      (unit.children || []).map((c) => "<tr><td>" + esc(c.name) + "</td><td>" + esc(c.code) + "</td></tr>").join("") +
      "</table>";
    panel.dataset.unit = code;
    units.clearLayers();
    units.addData(fc);
    const shapes = L.featureGroup(units.getLayers().filter((l) => l.feature.properties.kind === "unit"));
    map.fitBounds(shapes.getBounds(), { paddingTopLeft: [52, 24], paddingBottomRight: [236, 24], animate: false });
    // the same tile-snapped bbox as the command map's pointData (assets/map.js), so the same cached answer
    const z = Math.round(map.getZoom());
    const step = 180 / Math.pow(2, z);
    const b = map.getBounds();
    const r = (v, up) => +((up ? Math.ceil(v / step) : Math.floor(v / step)) * step).toFixed(6);
    const bbox = [r(b.getWest(), false), r(b.getSouth(), false), r(b.getEast(), true), r(b.getNorth(), true)];
    const asked = kinds.filter((k) => z >= (k.min_zoom || 0)).map((k) => k.id);
    points.clearLayers();
    if (!asked.length) { return; }
    const body = await getJSON("/api/map/points.json?kinds=" + asked.join(",") + "&bbox=" + bbox.join(",") +
                               "&zoom=" + z);
    if (mine !== seq) { return; }
    for (const k of asked) { points.addData(body[k]); }
  }

  window.addEventListener("popstate", () => go(new URLSearchParams(location.search).get("unit"), false));
  go(q.get("unit") || cfg.scope, false);
}());
