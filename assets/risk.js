/* SafeGrid risk analysis (/risk): the H3 hexagon style (referenced from dashboard/pages/risk.py as
 * {"variable": "safegrid.risk.<name>"}) and the clientside callbacks of that page (namespace
 * "safegrid_risk"). Breaks and colours come from the data and layers/risk.py, never from constants here. */
(function () {
  "use strict";
  const ns = (window.safegrid = window.safegrid || {});

  /* HTML escaping lives in assets/map.js (ns.util.esc); looked up at call time, not at load time. */
  function esc(text) {
    return ns.util.esc(text);
  }

  /* Class of a value for breaks [min, b1, …, max]: the last inner break it reaches (as layers/risk.py). */
  function heatClass(value, breaks) {
    let k = 0;
    for (let i = 1; i < breaks.length - 1; i += 1) {
      if (value >= breaks[i]) { k = i; }
    }
    return k;
  }

  /* n colours of the ramp, spread evenly and ending with the darkest (as layers/risk.py heat_colours). */
  function spread(ramp, n) {
    if (n <= 0) { return []; }
    if (n === 1) { return [ramp[ramp.length - 1]]; }
    const last = ramp.length - 1;
    const out = [];
    for (let i = 0; i < n; i += 1) { out.push(ramp[Math.round(i * last / (n - 1))]); }
    return out;
  }

  function fmt(v) {
    if (v == null) { return ""; }
    return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
  }

  ns.risk = {
    /* H3 hexagons: fill by class of the metric value; the class name lets tests find a cell. */
    hexStyle: function (feature, context) {
      const h = context.hideout || {};
      const breaks = h.breaks || [];
      const colours = h.colours || [];
      const k = heatClass((feature.properties || {}).v || 0, breaks);
      return {
        color: "#7a2e12", weight: 0.4, opacity: 0.5,
        fillColor: colours[Math.min(k, colours.length - 1)] || "#cccccc",
        fillOpacity: h.opacity || 0.7,
        className: "rk-hex rk-hex-c" + k,
      };
    },

    /* Four-colour units over the heatmap: a thick outline in the class colour and a faint fill, so the
     * hexagons stay readable; the selected unit (hideout.current) is drawn darker. */
    unitOutline: function (feature, context) {
      const h = context.hideout || {};
      const p = feature.properties || {};
      const colour = (h.colours && h.colours[p.risk]) || h.noColour || "#8a97a8";
      const current = h.current && p.code === h.current;
      return {
        color: current ? "#0f2f57" : colour, weight: current ? 4 : 2.5, opacity: 0.95,
        fillColor: colour, fillOpacity: current ? 0.18 : 0.06,
        className: "cm-unit cm-unit-" + p.code + " rk-unit",
      };
    },

    hexTooltip: function (feature, layer, context) {
      const h = context.hideout || {};
      const p = feature.properties || {};
      let html = "<b>" + esc(h.metricLabel || "") + "</b>：" + esc(fmt(p.v));
      if (p.r != null) {
        html += "<br>红 " + p.r + " · 橙 " + p.o + " · 黄 " + p.y + " · 蓝 " + p.b;
      }
      html += "<br><span class='rk-cell'>H3 " + esc(feature.id) + "</span>";
      layer.bindTooltip(html, { sticky: true, className: "cm-tip" });
    },
  };

  const noUpdate = () => window.dash_clientside.no_update;
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    safegrid_risk: {
      /* Fetch the hexagons of the viewport from /api/risk/h3 (gzip + ETag) and update the layer, its
       * hideout, the colour bar, the status line and the export links in one go. */
      heat: function (bounds, zoom, query, overlayLevel, unit, hideout, ramp, labels) {
        const outputs = 11;
        if (!bounds || zoom == null || !query) {
          return Array(outputs).fill(noUpdate());
        }
        const r = (v, up) => (up ? Math.ceil(v * 200) : Math.floor(v * 200)) / 200;
        const bbox = [r(bounds[0][1], false), r(bounds[0][0], false), r(bounds[1][1], true), r(bounds[1][0], true)];
        const view = "bbox=" + bbox.join(",") + "&zoom=" + Math.round(zoom) + (query ? "&" + query : "");
        const extra = "&units=" + encodeURIComponent(overlayLevel || "") + (unit ? "&unit=" + encodeURIComponent(unit) : "");
        return fetch("/api/risk/h3?" + view, { credentials: "same-origin" })
          .then((resp) => {
            if (!resp.ok) { throw new Error("HTTP " + resp.status); }
            return resp.json();
          })
          .then((fc) => {
            const breaks = fc.breaks || [];
            const n = Math.max(breaks.length - 1, 1);
            const colours = spread(ramp, n);
            const metricLabel = (labels && labels[fc.metric]) || fc.metric;
            const ticks = [];
            for (let i = 0; i <= n; i += 1) { ticks.push(i); }
            const tickText = breaks.length > 1 ? breaks.map(fmt) : [fmt(breaks[0] || 0), fmt(breaks[0] || 0)];
            const count = fc.features.length;
            const info = "缩放 " + Math.round(zoom) + " · H3 分辨率 " + fc.res + " · " + count + " 个六边形" +
              (count ? " · 最大值 " + fmt(breaks[breaks.length - 1]) : " · 当前范围无数据") +
              (fc.source === "h3_stats" ? " · 预聚合" : " · 按筛选实时聚合");
            return [
              fc,
              Object.assign({}, hideout, { breaks: breaks, colours: colours, metric: fc.metric, metricLabel: metricLabel }),
              colours, 0, n, ticks, ticks, tickText,
              info,
              "/export/risk/heatmap.png?" + view + extra,
              "/export/risk/tables.xlsx?" + view + extra,
            ];
          })
          .catch((err) => {
            const out = Array(outputs).fill(noUpdate());
            out[8] = "热力图加载失败：" + String(err.message || err);
            return out;
          });
      },
    },
  });
}());
