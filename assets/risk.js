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

  /* The view part of a heatmap or export URL: the bbox rounded outwards to 1/200° (so a small move asks
   * the server's cache for the same cells), the whole zoom and the filters' query string. */
  function viewOf(bounds, zoom, query) {
    const r = (v, up) => (up ? Math.ceil(v * 200) : Math.floor(v * 200)) / 200;
    const bbox = [r(bounds[0][1], false), r(bounds[0][0], false), r(bounds[1][1], true), r(bounds[1][0], true)];
    return "bbox=" + bbox.join(",") + "&zoom=" + Math.round(zoom) + (query ? "&" + query : "");
  }

  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  let heatSeq = 0;  // answers of a superseded view or filter are dropped, not drawn

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    safegrid_risk: {
      /* The query string of the metric and filters, as RiskFilters.as_args writes it (sorted, comma-joined,
       * empty ones left out): built here so the heatmap request leaves with the chart callbacks. */
      query: function (metric, industry, colour, hlevel, channel, start, end) {
        const parts = ["metric=" + encodeURIComponent(metric || "risk_score")];
        const many = (key, value) => {
          const list = Array.isArray(value) ? value : (value == null || value === "" ? [] : [value]);
          const values = Array.from(new Set(list.filter((v) => v != null && v !== "").map(String))).sort();
          if (values.length) { parts.push(key + "=" + encodeURIComponent(values.join(","))); }
        };
        many("industry", industry);
        many("risk", colour);
        many("level", hlevel);
        many("channel", channel);
        if (start) { parts.push("from=" + encodeURIComponent(String(start).slice(0, 10))); }
        if (end) { parts.push("to=" + encodeURIComponent(String(end).slice(0, 10))); }
        return parts.join("&");
      },

      /* Fetch the hexagons of the viewport from /api/risk/h3 (zstd/gzip + ETag) and update the layer, its
       * hideout, the colour bar (only when its classes changed) and the status line in one go. */
      heat: function (bounds, zoom, query, hideout, ramp, labels, oldTicks, oldScale) {
        const outputs = 9;
        if (!bounds || zoom == null || !query) {
          return Array(outputs).fill(noUpdate());
        }
        const seq = (heatSeq += 1);
        return fetch("/api/risk/h3?" + viewOf(bounds, zoom, query), { credentials: "same-origin" })
          .then((resp) => {
            if (!resp.ok) { throw new Error("HTTP " + resp.status); }
            return resp.json();
          })
          .then((fc) => {
            if (seq !== heatSeq) { return Array(outputs).fill(noUpdate()); }
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
            const bar = same(tickText, oldTicks) && same(colours, oldScale) ? Array(6).fill(noUpdate())
              : [colours, 0, n, ticks, ticks, tickText];
            return [
              fc,
              Object.assign({}, hideout, { breaks: breaks, colours: colours, metric: fc.metric, metricLabel: metricLabel }),
              ...bar,
              info,
            ];
          })
          .catch((err) => {
            const out = Array(outputs).fill(noUpdate());
            if (seq === heatSeq) { out[8] = "热力图加载失败：" + String(err.message || err); }
            return out;
          });
      },

      /* The export links of the current view, filters, four-colour level and selected unit (no request). */
      links: function (bounds, zoom, query, overlayLevel, unit) {
        if (!bounds || zoom == null || !query) { return [noUpdate(), noUpdate()]; }
        const view = viewOf(bounds, zoom, query) + "&units=" + encodeURIComponent(overlayLevel || "") +
          (unit ? "&unit=" + encodeURIComponent(unit) : "");
        return ["/export/risk/heatmap.png?" + view, "/export/risk/tables.xlsx?" + view];
      },

      /* The four-colour layer's URL for a level and an optional industry or group (分行业). */
      overlayUrl: function (level, industry, url) {
        if (level == null) { return noUpdate(); }
        const base = String(url || "").split("?")[0];
        return base + "?level=" + encodeURIComponent(level) + (industry ? "&industry=" + encodeURIComponent(industry) : "");
      },

      /* A click on a four-colour unit selects it (its explanation is read on the server) and draws it darker. */
      pick: function (click, hideout) {
        const code = click && click.properties && click.properties.code;
        if (typeof code !== "string" || !/^[0-9]{6,14}$/.test(code)) { return [noUpdate(), noUpdate()]; }
        return [code, Object.assign({}, hideout, { current: code })];
      },
    },
  });
}());
