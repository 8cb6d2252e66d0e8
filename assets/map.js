/* SafeGrid command map: style functions for dash-leaflet layers (referenced from layers/registry.py as
 * {"variable": "safegrid.map.<name>"}) and the clientside callbacks of dashboard/pages/command_map.py.
 * Classes, colours, labels, marker shapes and tooltip lines come from each layer's `hideout` (built from its
 * record in layers/registry.py by layers/spec.py), never from constants here. */
(function () {
  "use strict";
  const ns = (window.safegrid = window.safegrid || {});

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  ns.util = Object.assign(ns.util || {}, { esc });  // shared with assets/risk.js and others

  function colourOf(hideout, cls) {
    return (hideout.colours && hideout.colours[cls]) || hideout.noColour || "#cccccc";
  }

  function labelOf(hideout, cls) {
    return (hideout.labels && hideout.labels[cls]) || hideout.noLabel || "";
  }

  /* The most severe class present in an aggregated cell ({"red": 3, "blue": 10} → "red"). */
  function worstClass(hideout, classes) {
    const order = hideout.order || [];
    for (const key of order) {
      if (classes && classes[key]) { return key; }
    }
    return Object.keys(classes || {})[0];
  }

  /* Chinese titles for Leaflet's zoom buttons (dash-leaflet does not expose them); Leaflet arrives
   * with the dash-leaflet bundle, before any map is created from the layout. */
  const leafletMaps = new WeakMap();  // container element → its L.Map (a drill-down step moves the map at the click)
  (function localiseLeaflet() {
    if (window.L && window.L.Control && window.L.Control.Zoom) {
      Object.assign(window.L.Control.Zoom.prototype.options, { zoomInTitle: "放大", zoomOutTitle: "缩小" });
      window.L.Map.addInitHook(function () {
        leafletMaps.set(this.getContainer(), this);
        // Leaflet measures its box once and again only on a window resize: a box that settles after the map was
        // made (the page built with the layout, a panel, a scrollbar) would leave the view off its centre.
        if (window.ResizeObserver) {
          const map = this;
          const box = this.getContainer();
          const watch = new ResizeObserver(() => {
            if (map._loaded && box.isConnected && box.clientWidth && box.clientHeight) { map.invalidateSize(); }
          });
          watch.observe(box);
          this.on("unload", () => watch.disconnect());
        }
        this.on("moveend overlayadd overlayremove", function () { if (this === theMap()) { exportLinks(); } });
      });
      // Leaflet 1.9's attribution control adds every layer's (undefined) attribution and a `once("remove")`
      // listener on it: per point of a view, for nothing. Only layers with an attribution (the basemaps) now.
      const attribution = window.L.Control.Attribution.prototype;
      const addAttribution = attribution._addAttribution;
      if (addAttribution) {
        attribution._addAttribution = function (ev) {
          if (ev.layer && ev.layer.getAttribution && ev.layer.getAttribution()) { addAttribution.call(this, ev); }
        };
      }
    } else {
      setTimeout(localiseLeaflet, 30);
    }
  }());

  /* The raw point shapes of layers/spec.py's `marker`: half-size in px, outline, and the SVG path around (x, y). */
  const SHAPES = {
    circle: { radius: 6, stroke: "#ffffff" },
    diamond: { radius: 8, stroke: "#ffffff",
               path: (x, y, r) => `M${x} ${y - r}L${x + r} ${y}L${x} ${y + r}L${x - r} ${y}Z` },
    triangle: { radius: 8, stroke: "#ffffff",
                path: (x, y, r) => `M${x} ${y - r}L${x + r} ${y + 0.75 * r}L${x - r} ${y + 0.75 * r}Z` },
    square: { radius: 6, stroke: "#1b2633",
              path: (x, y, r) => `M${x - r} ${y - r}h${2 * r}v${2 * r}h${-2 * r}Z` },
  };
  let ShapeMarker = null;
  /* L.CircleMarker drawing its `shape` (SHAPES) instead of a circle on the SVG renderer (a circle elsewhere), its
   * `classes` written to the path in one attribute (Leaflet's `className` splits the words and adds each in turn:
   * a fifth of a county step's script time over 1,400 points). */
  function shapeMarker() {
    ShapeMarker = ShapeMarker || L.CircleMarker.extend({
      onAdd: function (map) {
        L.CircleMarker.prototype.onAdd.call(this, map);
        const path = this._path;
        if (path && this.options.classes) { path.setAttribute("class", path.getAttribute("class") + " " + this.options.classes); }
      },
      _updatePath: function () {
        const look = SHAPES[this.options.shape];
        if (!look || !look.path || !this._renderer._setPath || this._empty()) {
          L.CircleMarker.prototype._updatePath.call(this);
          return;
        }
        const r = Math.max(Math.round(this._radius), 1);
        this._renderer._setPath(this, look.path(Math.round(this._point.x), Math.round(this._point.y), r));
      },
    });
    return ShapeMarker;
  }

  ns.map = {
    /* Four-colour unit polygons: fill by risk class; class names let tests and CSS find a unit. */
    unitStyle: function (feature, context) {
      const h = context.hideout || {};
      const p = feature.properties || {};
      const current = h.current && p.code === h.current;
      return {
        color: current ? "#0f2f57" : "#2b3a4d",
        weight: current ? 3 : 1.5,
        opacity: 0.9,
        fillColor: colourOf(h, p.risk),
        fillOpacity: 0.42,
        className: "cm-unit cm-unit-" + p.code,
      };
    },

    /* Label points of the unit layer: a non-interactive text marker, readable without a basemap. */
    unitLabel: function (feature, latlng) {
      const p = feature.properties || {};
      return L.marker(latlng, {
        // ▲: the unit holds a 红 enterprise or an open 重大隐患 (whatever colours the map; docs/risk_rule.md)
        icon: L.divIcon({ className: "cm-label" + (p.mark ? " cm-label-mark" : ""), iconSize: null,
                          html: "<span>" + esc(p.label) + "</span>" }),  // ▲ drawn by CSS (.cm-label-mark)
        interactive: false,
        keyboard: false,
        pane: "tooltipPane",  // above the point markers, so names stay readable
      });
    },

    /* Hover tooltip of a unit with its KPIs (labels are separate permanent markers). */
    unitTooltip: function (feature, layer, context) {
      const p = feature.properties || {};
      if (p.kind !== "unit") { return; }
      const h = context.hideout || {};
      const risk = p.risk ? labelOf(h, p.risk) : (h.noLabel || "");
      const n = (v) => (v == null ? "—" : v);
      layer.bindTooltip(
        "<b>" + esc(p.name) + "</b><br>" + esc(risk) + "<br>生产经营单位 " + n(p.enterprises) +
        " · 未销号隐患 " + n(p.open) + " · 逾期 " + n(p.overdue) +
        (p.mark ? '<br><b class="cm-mark">▲ 含红色企业或未销号重大隐患</b>' : ""),
        { sticky: true, className: "cm-tip" });
    },

    /* Point layers: an aggregated cell is a bubble with its count, a raw point a coloured marker. */
    pointMarker: function (feature, latlng, context) {
      const h = context.hideout || {};
      const p = feature.properties || {};
      const layer = h.layer || "points";
      if (p.n != null) {
        const cls = worstClass(h, p.classes);
        const size = Math.round(Math.min(54, 22 + 6 * Math.log10(p.n + 1) * 2));
        return L.marker(latlng, {
          icon: L.divIcon({
            className: "cm-agg cm-agg-" + layer,
            html: '<span style="background:' + colourOf(h, cls) + ";width:" + size + "px;height:" + size +
              "px;line-height:" + size + 'px">' + p.n + "</span>",
            iconSize: [size, size],
          }),
          keyboard: false,
          sgPoint: layer,
        });
      }
      // A raw point is an SVG path of its shape (one <svg> for all: no element, listeners and compositing layer
      // per marker as a divIcon has, which cost a county view of 1,400 points ~300 ms), in the marker pane, so the
      // unit polygons redrawn after it never cover it.
      const shape = h.marker || "circle";
      const look = SHAPES[shape] || SHAPES.circle;
      return new (shapeMarker())(latlng, {
        shape: shape, radius: look.radius, color: look.stroke, weight: 1.5, fillColor: colourOf(h, p.cls),
        fillOpacity: 0.95, pane: "markerPane", sgPoint: layer,
        classes: "cm-pt cm-pt-" + layer + (shape === "circle" ? "" : " cm-shape-" + shape) + " cm-cls-" + p.cls,
      });
    },

    /* A point's tooltip is built and bound at its first hover, by one mouseover listener on the whole layer
     * (eventHandlers; a view holds up to thousands of points: a tooltip, or even a listener, per point cost
     * every step its text, listener sets and focus listeners). Later hovers open it by Leaflet's own handlers. */
    pointHover: function (e, context) {
      const point = e.propagatedFrom;
      if (!point || !point.feature || point.getTooltip()) { return; }
      point.bindTooltip(pointTip(point.feature.properties || {}, context.hideout || {}), { className: "cm-tip" });
      point.openTooltip();
    },

    /* Map click handler (eventHandlers): a click on a free spot — not on a unit, a point or a bubble — asks
     * what is around it (cm-spot store). dash-leaflet lets every layer click reach the map too (the GeoJSON
     * bubblingMouseEvents prop does not get to the features), so the DOM target decides. */
    mapSpot: function (e) {
      const el = e.originalEvent && e.originalEvent.target;
      if (!e.latlng || (el && el.closest && el.closest(".leaflet-interactive"))) { return; }
      setSpot(e.latlng);
    },

    /* Unit layer click handler (the layer's default handlers, clickData and hoverData, are off: nothing reads
     * them, and each set them through Dash's store on every click and hover). A click on another unit drills
     * into it: the step starts here (startStep) and the URL changes (?unit=CODE, a new history entry through
     * cm-url), which show_unit answers with the panel. The unit shown as itself (a leaf grid cell) drills
     * nowhere, so a click on it is a free spot, keeping a ?focus= of the URL. The current unit is read from
     * Dash's layout: the handler's own context keeps the props of the first render (dash-leaflet binds
     * GeoJSON handlers once). */
    unitSpot: function (e) {
      const p = (e.layer && e.layer.feature && e.layer.feature.properties) || {};
      if (p.kind !== "unit" || !p.code) { return; }
      const current = (propOf("cm-state", "data") || {}).code;
      if (p.code === current || p.code === unitCode(propOf("cm-url", "search"))) {
        if (e.latlng) { setSpot(e.latlng); }
        return;
      }
      drillTo(p.code, e.layer.getBounds && e.layer.getBounds());
    },
  };

  /* The tooltip text of a point or a bubble (its layer's `hideout`: labels, order, tooltip lines). */
  function pointTip(p, h) {
    if (p.n != null) {
      const parts = (h.order || []).filter((k) => p.classes && p.classes[k])
        .map((k) => esc(labelOf(h, k)) + " " + p.classes[k]);
      return "共 " + p.n + " 处（放大查看）<br>" + parts.join("，");
    }
    let html = "<b>" + esc(p.name) + "</b><br>" + esc(labelOf(h, p.cls));
    for (const [prop, prefix] of h.details || []) {  // the layer's tooltip lines: [property, prefix]
      if (p[prop]) { html += "<br>" + esc(prefix) + esc(p[prop]); }
    }
    return html;
  }

  /* A prop of a component in Dash's layout (undefined when absent). */
  function propOf(id, prop) {
    const c = window.dash_component_api && window.dash_component_api.getLayout(id);
    return c && c.props ? c.props[prop] : undefined;
  }

  /* A click on a child unit: fit it now (the same options as show_unit's fit, no animation) and ask its
   * polygons and the points of the new view now, before Dash has carried the click to the URL; unitsNow and
   * pointData then find these requests under way (or answered) instead of making them. */
  function startStep(code, latLngBounds) {
    const crs = propOf("cm-crs", "data") || "wgs84";
    const bounds = latLngBounds.getSouth ? [[latLngBounds.getSouth(), latLngBounds.getWest()],
                                            [latLngBounds.getNorth(), latLngBounds.getEast()]] : latLngBounds;
    seen.set(seenKey(crs, code), bounds);
    getJSON(unitsUrl(code, crs));
    const map = theMap();
    if (!map || !fitUnit(crs, code, bounds)) { return; }
    const b = map.getBounds();
    const plan = pointPlan([[b.getSouth(), b.getWest()], [b.getNorth(), b.getEast()]], map.getZoom(), crs,
                           propOf("cm-layers", "overlays"), propOf("cm-point-meta", "data"), []);
    if (plan.url) { getPoints(plan.url); }
  }

  /* The command map's L.Map (created by dash-leaflet inside #cm-map). */
  function theMap() {
    const box = document.getElementById("cm-map");
    return box && (leafletMaps.get(box) || leafletMaps.get(box.querySelector(".leaflet-container")));
  }

  /* The view's download links (dashboard/gis_export.py export_links: HTML, no callback): GeoPackage and Shapefile
   * of the map's bounds and its ticked overlays, the unit polygons one level below the unit shown (`level`, else
   * cm-state's). Written when the map moves, an overlay is ticked or unticked, and a unit is shown (unitsData). */
  function exportLinks(level) {
    const box = document.querySelector(".cm-export-links[data-layers]");
    const map = theMap();
    if (!box || !map) { return; }
    const shown = level != null ? level : (propOf("cm-state", "data") || {}).level;
    const ticked = new Set();
    for (const label of document.querySelectorAll(".cm-map .leaflet-control-layers-overlays label")) {
      const input = label.querySelector("input");
      if (input && input.checked) { ticked.add(label.textContent.trim()); }
    }
    const layers = [];
    for (const [title, id] of JSON.parse(box.dataset.layers)) {  // [title, collection id], registry order
      if (!ticked.has(title)) { continue; }
      if (id !== "units") { layers.push(id); } else if (shown) { layers.push("units-" + Math.min(5, shown + 1)); }
    }
    const b = map.getBounds();
    const clamp = (v, m) => Math.max(-m, Math.min(m, Math.round(v * 1e6) / 1e6));
    const bbox = [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)];
    const base = layers.length ? "/api/export/gis?layers=" + encodeURIComponent(layers.join(",")) + "&bbox=" + bbox.join(",") : "";
    for (const [id, format] of [["cm-export-gpkg", "gpkg"], ["cm-export-shp", "shp"]]) {
      const link = document.getElementById(id);
      if (link) { link.setAttribute("href", base && base + "&format=" + format); }
    }
  }

  /* Fit unit `code` (bounds in display coordinates) with cm-fit's options (show_unit's old viewport: padding clear
   * of the controls, no animation), unless the map still shows it as the last fit left it: a step fits once, at
   * the click (startStep) or at the URL (prefit, in unitsNow) or at show_unit's answer (unitsData), whichever
   * comes first; a second fit to the same bounds would still fire moveend (every path redrawn, the bounds'
   * callbacks run again). Before a fit that changes the zoom the point layers are emptied (clearPoints). True
   * when fitted. */
  let lastFit = null;
  function fitUnit(crs, code, bounds) {
    const map = theMap();
    const fit = propOf("cm-fit", "data");
    if (!map || !fit || !bounds) { return false; }
    const key = seenKey(crs, code);
    if (lastFit && lastFit.key === key && lastFit.zoom === map.getZoom() && lastFit.center.equals(map.getCenter())) {
      return true;
    }
    const padding = L.point(fit.paddingTopLeft || [0, 0]).add(L.point(fit.paddingBottomRight || [0, 0]));
    if (Math.round(map.getBoundsZoom(L.latLngBounds(bounds), false, padding)) !== Math.round(map.getZoom())) {
      clearPoints(map);
    }
    keepOnlyUnit(map, code);
    map.fitBounds(bounds, fit);
    lastFit = { key: key, zoom: map.getZoom(), center: map.getCenter() };
    return true;
  }

  /* Empty the point layers on the map before a step's fit changes the zoom: every shown point layer gets new data
   * for the new view (pointData), and the fit would otherwise first move each old point (thousands of paths) to the
   * new zoom, and dash-leaflet remove them all afterwards. A layer is known by its points (pointMarker's sgPoint). */
  function clearPoints(map) {
    const groups = [];
    map.eachLayer((l) => {
      const first = l instanceof L.GeoJSON && l.getLayers()[0];
      if (first && first.options.sgPoint) { groups.push(l); }
    });
    groups.forEach((g) => g.clearLayers());
  }

  /* Before a fit into a child unit drawn on the map: its sibling polygons and every label leave the map (the fit
   * would redraw each at the new zoom, mostly out of view, and the child's own children replace them), the child
   * stays. Not when `code` is not drawn (going up, a typed URL): the map keeps what it shows. */
  function keepOnlyUnit(map, code) {
    map.eachLayer((g) => {
      if (!(g instanceof L.GeoJSON)) { return; }
      const units = g.getLayers();
      const props = (l) => (l.feature && l.feature.properties) || {};
      if (!units.some((l) => props(l).kind === "unit" && props(l).code === code)) { return; }
      units.forEach((l) => { if (props(l).kind !== "unit" || props(l).code !== code) { g.removeLayer(l); } });
    });
  }

  /* Fit a unit the page knows as soon as the URL names it (a click, a list row, the breadcrumb, back or forward),
   * not after show_unit answers (fitUnit: once a step). Not with ?focus= (showTarget flies to the point instead). */
  function prefit(search, crs) {
    const code = unitCode(search);
    if (code && !new URLSearchParams(search || "").has("focus")) { fitUnit(crs, code, seen.get(seenKey(crs, code))); }
  }

  /* Drill into `code`: the step starts at once when its bounds are known (startStep), and a new history entry
   * ?unit=CODE through cm-url has show_unit answer with the panel. */
  function drillTo(code, bounds) {
    if (bounds) { startStep(code, bounds); }
    window.dash_clientside.set_props("cm-url", { search: "?unit=" + encodeURIComponent(code) });
  }

  /* Clicks in the panel's and the breadcrumb's HTML (dashboard/dry.py html_block: no Dash components, so no
   * callbacks): a unit (a[data-drill]) drills as a click on its polygon does, starting the step at once when
   * its bounds are known; 上一页/下一页 of the hazard list (button[data-hz-page]) asks that page (cm-hz-want →
   * the server's page_hazards); a hazard (button.cm-hazard[data-id]) is located on the map (cm-hz-click → the
   * server's locate_hazard). A click with a modifier key keeps the browser's meaning (a new tab or window).
   * Page links (a[data-link]) are assets/nav.js's. */
  let hazardClicks = 0;
  let pagerClicks = 0;
  document.addEventListener("click", (e) => {
    const el = e.target && e.target.closest && e.target.closest(
      "#cm-panel a.cm-drill[data-drill], #cm-breadcrumb a[data-drill], #cm-panel button.cm-hazard[data-id], " +
      "#cm-panel button[data-hz-page]");
    if (!el || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || !window.dash_clientside) {
      return;
    }
    e.preventDefault();
    if (el.dataset.drill) {
      drillTo(el.dataset.drill, seen.get(seenKey(propOf("cm-crs", "data"), el.dataset.drill)));
    } else if (el.dataset.hzPage != null) {
      pagerClicks += 1;
      window.dash_clientside.set_props("cm-hz-want", { data: { page: Number(el.dataset.hzPage), n: pagerClicks } });
    } else {
      hazardClicks += 1;
      window.dash_clientside.set_props("cm-hz-click", { data: { id: Number(el.dataset.id), n: hazardClicks } });
    }
  });

  /* The child table's sort order (native radio buttons in the panel's HTML) → cm-sort-by {how, n}, n counting
   * the changes (the server's sort_children reads the table again). */
  let sortChanges = 0;
  document.addEventListener("change", (e) => {
    const input = e.target;
    if (!input || !input.matches || !input.matches("#cm-panel input[name=cm-sort]") || !window.dash_clientside) {
      return;
    }
    sortChanges += 1;
    window.dash_clientside.set_props("cm-sort-by", { data: { how: input.value, n: sortChanges } });
  });

  function setSpot(latlng) {
    const data = { lat: +latlng.lat.toFixed(6), lon: +latlng.lng.toFixed(6) };
    window.dash_clientside.set_props("cm-spot", { data: data });
  }

  /* Component JSON for clientside callbacks that return dash-leaflet components. */
  const dl = (type, props) => ({ namespace: "dash_leaflet", type: type, props: props });

  /* Tick the overlay titled `title` in the layers control when the user had unticked it (the Overlay's
   * `checked` prop is not updated by the control, so setting it from a callback would do nothing). */
  function showOverlay(title) {
    const labels = document.querySelectorAll(".cm-map .leaflet-control-layers-overlays label");
    for (const label of labels) {
      const input = label.querySelector("input");
      if (input && !input.checked && label.textContent.trim() === title) { input.click(); }
    }
  }

  /* Clientside callbacks (dash clientside_callback with ClientsideFunction("safegrid_cm", name)). */
  const noUpdate = () => window.dash_clientside.no_update;

  /* A drill-down step starts everything it needs at once (docs/command_map_speed.md): when the URL names a
   * unit whose bounds the page already knows — a child polygon it drew, or a unit the server showed before —
   * the map fits it at once (prefit) and its polygons are fetched at once (unitsNow), while show_unit builds
   * the panel; the fit moves the viewport, so pointData asks the points of the new view at once too. A unit
   * the page has not seen (a typed URL) waits for the server's cm-state, which checks the scope first. */
  const seen = new Map();  // "crs|code" → [[south, west], [north, east]] in display coordinates
  const seenKey = (crs, code) => (crs || "wgs84") + "|" + code;
  const unitCode = (search) => {
    const code = new URLSearchParams(search || "").get("unit") || "";
    return /^\d{6,14}$/.test(code) ? code : null;
  };
  /* [[south, west], [north, east]] of a GeoJSON geometry (any nesting of positions). */
  function geometryBounds(geometry) {
    const b = [[Infinity, Infinity], [-Infinity, -Infinity]];
    const walk = (c) => {
      if (typeof c[0] === "number") {
        b[0][0] = Math.min(b[0][0], c[1]); b[0][1] = Math.min(b[0][1], c[0]);
        b[1][0] = Math.max(b[1][0], c[1]); b[1][1] = Math.max(b[1][1], c[0]);
      } else { c.forEach(walk); }
    };
    walk((geometry && geometry.coordinates) || []);
    return b[0][0] <= b[1][0] ? b : null;
  }
  /* Remember the unit polygons of a children collection (in scope: the server drew them for this account). */
  function rememberUnits(collection, crs) {
    for (const f of (collection && collection.features) || []) {
      const p = f.properties || {};
      const bounds = p.kind === "unit" && p.code && geometryBounds(f.geometry);
      if (bounds) { seen.set(seenKey(crs, p.code), bounds); }
    }
  }
  /* One request per URL for a few seconds: the click's own requests are what unitsNow and pointData then use
   * (an answer that arrived before them is not asked again). Each entry: {at, answer: Promise<{ok, status, body}>}. */
  const answers = new Map();
  const REUSE_MS = 5000;
  function getAnswer(url) {
    const now = Date.now();
    const hit = answers.get(url);
    if (hit && now - hit.at < REUSE_MS) { return hit.answer; }
    for (const [u, a] of answers) { if (now - a.at >= REUSE_MS) { answers.delete(u); } }
    const answer = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((resp) => resp.json().catch(() => null).then((body) => ({ ok: resp.ok, status: resp.status, body: body })))
      .catch(() => ({ ok: false, status: 0, body: null }));
    answers.set(url, { at: now, answer: answer });
    return answer;
  }
  const getJSON = (url) => getAnswer(url).then((a) => (a.ok ? a.body : null));
  const getPoints = getAnswer;
  const unitsUrl = (code, crs) => "/api/map/units/" + encodeURIComponent(code) + "/children.geojson" +
    (crs === "gcj02" ? "?crs=gcj02" : "");
  let unitsWanted = null;  // the units URL of the latest step
  let unitsShown = null;  // the units URL whose collection the layer holds
  let unitsSeq = 0;  // showUnits calls that fetch, so far
  let unitsLatest = 0;  // the one of them whose answer is applied
  /* [collection, hideout] of the units drawn for `code`: a URL already drawn changes nothing; otherwise the
   * latest call applies the answer (fetched once per URL: a call for a URL under way shares its request). An
   * older call for the same URL leaves it to the newer one rather than the other way round, because Dash drops
   * the result of a callback still running when it is triggered again (see `claims` below). */
  async function showUnits(code, crs, hideout) {
    const keep = [noUpdate(), noUpdate()];
    if (!code) { return keep; }
    const url = unitsUrl(code, crs);
    if (url === unitsShown && url === unitsWanted) { return keep; }  // drawn
    const seq = ++unitsSeq;
    unitsWanted = url;
    unitsLatest = seq;
    const body = await getJSON(url);
    if (seq !== unitsLatest) { return keep; }  // a newer call: another step, or this one asked again
    if (!body || body.type !== "FeatureCollection") { unitsWanted = unitsShown; return keep; }  // may be asked again
    unitsShown = url;
    rememberUnits(body, crs);
    return [body, Object.assign({}, hideout, { current: code })];
  }
  let pointSeq = 0;  // pointData calls so far
  /* Per point layer, the call that last decided its data ({seq, view, open: its request still under way}): an
   * answer is applied to a layer only if no newer call has decided that layer since (a newer view, below its
   * min_zoom). A newer call for the same view asks again and shares the request under way (getAnswer): it must
   * not leave the layer to the older call, because Dash drops the result of a callback still running when the
   * same callback is triggered again (dash-renderer's "eDuplicates"), so the layer would never be filled. */
  const claims = {};
  const LOADING_AFTER_MS = 300;
  /* The status line over the map (#cm-points-status): "loading" or "error". */
  const statusLine = (kind, text) => ({
    namespace: "dash_html_components", type: "Span", props: { className: "cm-points-" + kind, children: text },
  });
  /* The point request of a view: one request (/api/map/points.json?kinds=…) for every checked layer whose data
   * is not for this view yet. A layer's collection carries `view` (bbox, zoom, crs) so a pan inside the same
   * snapped bbox, or re-checking a layer in the view it was loaded for, asks nothing new; an unchecked layer
   * keeps its data and is asked again when checked in another view. Below a layer's min_zoom: an empty
   * collection, no request. Returns {plan (per layer: no_update, a collection, or null = to fetch), kinds,
   * view, url}. */
  function pointPlan(bounds, zoom, crs, overlays, meta, current) {
    const layers = meta.layers;
    // Snap outward to half a tile at this zoom: pans within it reuse the view (no refetch, ETag hits).
    const z = Math.round(zoom);
    const step = 180 / Math.pow(2, z);
    const r = (v, up) => +((up ? Math.ceil(v / step) : Math.floor(v / step)) * step).toFixed(6);
    const bbox = [r(bounds[0][1], false), r(bounds[0][0], false), r(bounds[1][1], true), r(bounds[1][0], true)];
    const view = bbox.join(",") + "|" + z + "|" + (crs || "wgs84");
    const plan = layers.map((l, i) => {
      const have = current[i] && current[i].view;
      if (overlays && overlays.indexOf(l.title) < 0) { return noUpdate(); }
      if (z < (l.min_zoom || 0)) {
        return have === "below" ? noUpdate() : { type: "FeatureCollection", features: [], view: "below" };
      }
      return have === view ? noUpdate() : null;  // null: to fetch
    });
    const kinds = layers.filter((l, i) => plan[i] === null).map((l) => l.id);
    const url = kinds.length ? meta.url + "?kinds=" + kinds.join(",") + "&bbox=" + bbox.join(",") + "&zoom=" + z +
      (crs === "gcj02" ? "&crs=gcj02" : "") : null;
    return { plan: plan, kinds: kinds, view: view, url: url };
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    safegrid_cm: {
      /* The header search picked an enterprise (map-focus): open its grid cell with ?focus=; show_unit flies
       * there and rings it. The same URL again is still returned, so picking it twice flies back to it. */
      focusUrl: function (focus, search) {
        if (!focus || !focus.highlight) { return noUpdate(); }
        const unit = focus.unit || new URLSearchParams(search || "").get("unit");
        const query = new URLSearchParams(unit ? { unit: unit } : {});
        query.set("focus", focus.highlight);
        return "?" + query.toString();
      },
      /* Fly to the cm-target point and ring it with a permanent name label; make its point layer visible. */
      showTarget: function (target) {
        if (!target || target.lat == null) { return [noUpdate(), []]; }
        if (target.overlay) { showOverlay(target.overlay); }
        const center = [target.lat, target.lon];
        const halo = dl("CircleMarker", {
          center: center, radius: 22, color: "#1f5fa8", weight: 2, fill: false, interactive: false,
          className: "cm-focus-halo",
        });
        const ring = dl("CircleMarker", {
          center: center, radius: 13, color: "#0f2f57", weight: 3, fill: false, interactive: false,
          className: "cm-focus-ring cm-focus-" + String(target.key || "").split(":")[0],
          children: dl("Tooltip", {
            children: target.label, permanent: true, direction: "top", offset: [0, -14], className: "cm-focus-tip",
          }),
        });
        // On a phone the view jumps (no flight): a flight still running when the page changes throws
        // Leaflet's "_leaflet_pos" error from its animation frame, and it costs a phone's battery.
        const jump = window.matchMedia("(max-width: 700px)").matches;
        return [{ center: center, zoom: target.zoom || 16, transition: jump ? "setView" : "flyTo" }, [halo, ring]];
      },
      /* A free spot clicked (cm-spot, from mapSpot / unitSpot) → map-click {lat, lon} for the around-a-point
       * drawer (plus crs when the display is GCJ-02: the server shifts it back). */
      spot: function (spot, crs) {
        if (!spot) { return noUpdate(); }
        return crs === "gcj02" ? Object.assign({ crs: "gcj02" }, spot) : spot;
      },
      /* The radius circle of the around-a-point drawer while it is shown (only for a point drawn in the
       * display CRS: a map click, or the browser location on WGS84 basemaps). */
      aroundCircle: function (point, radius, hidden, crs) {
        if (hidden || !point || !radius || (point.crs || "wgs84") !== (crs || "wgs84")) { return []; }
        const center = [point.lat, point.lon];
        return [
          dl("Circle", {
            center: center, radius: radius, color: "#1f5fa8", weight: 2, dashArray: "6 4", fillColor: "#1f5fa8",
            fillOpacity: 0.08, interactive: false, className: "cm-around-circle",
          }),
          dl("CircleMarker", {
            center: center, radius: 4, color: "#ffffff", weight: 2, fillColor: "#1f5fa8", fillOpacity: 1,
            interactive: false, className: "cm-around-center",
          }),
        ];
      },
      /* The unit layer's collection and hideout at the URL's change: the unit it names when the page knows it
       * (at first: the unit the page was built for, cm-start); a unit it does not know waits for unitsData.
       * At a new URL (not at a new base layer's CRS, nor at the first call) the map is fitted to a unit it knows
       * first (prefit): not after show_unit answers. */
      unitsNow: function (search, crs, start, hideout) {
        const triggered = window.dash_clientside.callback_context.triggered || [];
        if (start && start.code && start.bounds) { seen.set(seenKey(start.crs, start.code), start.bounds); }
        if (triggered.some((t) => t.prop_id === "cm-url.search")) { prefit(search, crs); }
        const asked = unitCode(search) || (start && start.code);
        return showUnits(asked && seen.has(seenKey(crs, asked)) ? asked : null, crs, hideout);
      },
      /* The unit show_unit answered (cm-state: a typed URL, the first view, a unit the page did not know): fitted
       * unless it already is, its polygons asked when the page did not know it. */
      unitsData: function (state, search, crs, hideout) {
        if (state && state.code && state.bounds) { seen.set(seenKey(crs, state.code), state.bounds); }
        if (state && state.code && state.bounds && !new URLSearchParams(search || "").has("focus")) {
          fitUnit(crs, state.code, state.bounds);
        }
        exportLinks(state && state.level);
        return showUnits(state && state.code, crs, hideout);
      },
      /* Display CRS of the selected base layer (names → crs table in the store). */
      crs: function (baseLayer, table) {
        return (table && table[baseLayer]) || "wgs84";
      },
      /* The point layers' data for the viewport (the request: pointPlan). A newer call decides the layers it
       * plans (claims): an older answer still waiting is dropped for those layers (the same view's request under
       * way is shared, not sent twice). Last output: the status line over the map:
       * empty, "点位加载中…" while an answer takes longer than LOADING_AFTER_MS, or why the points could not be
       * loaded. */
      pointData: async function (bounds, zoom, crs, overlays, meta, ...current) {
        const layers = meta.layers;
        const keep = layers.map(() => noUpdate());
        // dash-leaflet reports the bounds once the map is ready (and has made its first fit): nothing before.
        if (!bounds || zoom == null) { return keep.concat([noUpdate()]); }
        const { plan, kinds, view, url } = pointPlan(bounds, zoom, crs, overlays, meta, current);
        const seq = ++pointSeq;
        layers.forEach((l, i) => {  // this call decides these layers now
          if (plan[i] !== noUpdate()) { claims[l.id] = { seq: seq, view: view, open: plan[i] === null }; }
        });
        // The status line is cleared when no request of another call is still open for a layer.
        const othersOpen = () => layers.some((l) => claims[l.id] && claims[l.id].open && claims[l.id].seq !== seq);
        if (!kinds.length) { return plan.concat([othersOpen() ? noUpdate() : ""]); }
        // A slow answer (a large view on a big ledger) says so after a moment; quick ones never flash it.
        const slow = setTimeout(() => {
          if (layers.some((l) => claims[l.id] && claims[l.id].seq === seq && claims[l.id].open)) {
            window.dash_clientside.set_props("cm-points-status", { children: statusLine("loading", "点位加载中…") });
          }
        }, LOADING_AFTER_MS);
        const answer = await getPoints(url);  // the click may have asked it already (startStep)
        clearTimeout(slow);
        let body = answer.body;
        let problem = "";
        if (answer.status === 0) {
          problem = "点位数据加载失败：无法连接服务器，请检查网络后重试。";
          body = null;
        } else if (!answer.ok) {
          problem = "点位数据加载失败：" + ((body && body.error) || ("HTTP " + answer.status));
          body = null;
        } else if (!body || kinds.some((k) => !body[k] || body[k].type !== "FeatureCollection")) {
          // e.g. a proxy's or single-sign-on page answered instead of the server
          problem = "点位数据加载失败：服务器返回了无法识别的数据，请刷新页面或重新登录。";
          body = null;
        }
        const mine = layers.map((l) => !!claims[l.id] && claims[l.id].seq === seq);
        layers.forEach((l, i) => { if (mine[i]) { claims[l.id].open = false; } });
        const status = othersOpen() ? noUpdate() : "";
        if (!body) {  // the layers below their zoom range still empty; the others keep what they show
          answers.delete(url);  // not kept for reuse: the next view asks again
          return plan.map((p, i) => (p === null || !mine[i] ? noUpdate() : p))
            .concat([mine.some((m, i) => m && plan[i] === null) ? statusLine("error", problem) : status]);
        }
        // an answer for a view left behind is dropped: a newer call has decided those layers since
        return plan.map((p, i) => (!mine[i] ? noUpdate()
          : p === null ? Object.assign({}, body[layers[i].id], { view: view }) : p))
          .concat([status]);
      },
      /* Show the legend of each checked overlay only. */
      legends: function (overlays, titles) {
        if (!overlays) { return titles.map(() => ({})); }
        return titles.map((t) => ((overlays || []).indexOf(t) >= 0 ? {} : { display: "none" }));
      },
    },
  });
}());
