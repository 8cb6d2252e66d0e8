/* SafeGrid big screen (dashboard/pages/bigscreen.py): the dark four-colour unit style and the clientside
 * callbacks (clock, trend figure scaled to the screen). Colours come from the layer's hideout. */
(function () {
  "use strict";
  const ns = (window.safegrid = window.safegrid || {});

  function fillOf(h, p) {
    return (h.colours && h.colours[p.risk]) || h.noColour || "#7d8ea3";
  }

  ns.bigscreen = {
    /* Four-colour fill of the units one level below the outlines (townships under county outlines). */
    fillStyle: function (feature, context) {
      const h = context.hideout || {};
      const p = feature.properties || {};
      return {
        color: "#06142a", weight: 0.8, opacity: 0.9, fillColor: fillOf(h, p), fillOpacity: 0.82,
        className: "bs-unit bs-fill-" + p.code,
      };
    },

    /* Bright outlines of the child units on top; the carousel's unit in cyan, the others dimmed. */
    outlineStyle: function (feature, context) {
      const h = context.hideout || {};
      const p = feature.properties || {};
      const current = h.current && p.code === h.current;
      return {
        color: current ? "#00e5ff" : "#bfe6ff",
        weight: current ? 5 : 2.2,
        opacity: 1,
        fillColor: "#030b1a",
        fillOpacity: h.current && !current ? 0.55 : 0,
        className: "bs-unit bs-outline bs-unit-" + p.code + (current ? " bs-current" : ""),
      };
    },

    /* Keep the polygons of a unit collection, drop its label points. */
    unitsOnly: function (feature) {
      return !!feature.properties && feature.properties.kind === "unit";
    },
  };

  const WEEKDAYS = "日一二三四五六";

  /* Fonts, margins and bar widths of a plotly figure are in pixels: scale them to the screen
   * (1 at 1920×1080, 2 at 3840×2160, ~0.7 at 1366×768). */
  function scaleFonts(node, k) {
    if (Array.isArray(node)) { node.forEach((v) => scaleFonts(v, k)); return; }
    if (!node || typeof node !== "object") { return; }
    Object.keys(node).forEach((key) => {
      const v = node[key];
      if ((key === "size" || key === "l" || key === "r" || key === "t" || key === "b") && typeof v === "number") {
        node[key] = Math.round(v * k * 10) / 10;
      } else if (typeof v === "object") {
        scaleFonts(v, k);
      }
    });
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    safegrid_bs: {
      /* The clock in the configured time zone (北京时间 by default), whatever the browser's zone is. */
      clock: function (_n, timeZone) {
        const parts = {};
        new Intl.DateTimeFormat("en-GB", {
          timeZone: timeZone || undefined, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short",
        }).formatToParts(new Date()).forEach((p) => { parts[p.type] = p.value; });
        const weekday = WEEKDAYS[["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(parts.weekday)];
        return [
          parts.hour + ":" + parts.minute + ":" + parts.second,
          parts.year + "年" + parts.month + "月" + parts.day + "日 星期" + weekday,
        ];
      },
      /* Remember when the last refresh arrived (browser clock, so server and browser need not agree). */
      stamp: function () {
        return Date.now();
      },
      /* After three refresh intervals without a successful refresh, show how long the figures are old. */
      staleness: function (_n, refreshMs, lastOk) {
        const age = Date.now() - (lastOk || Date.now());
        if (!refreshMs || age < 3 * refreshMs) { return ["", { display: "none" }]; }
        const minutes = Math.floor(age / 60000);
        const since = minutes >= 1 ? minutes + " 分钟" : Math.floor(age / 1000) + " 秒";
        return ["数据已 " + since + "未更新，请检查网络或服务", {}];
      },
      /* Carousel target {bounds, card} → a flight; with the KPI card shown (bottom right, 13 units wide)
       * the bounds are framed in the part of the map the card leaves free. */
      fly: function (target) {
        if (!target || !target.bounds) { return window.dash_clientside.no_update; }
        if (!target.card) {  // back to the whole scope, framed exactly as the page first showed it
          return { bounds: target.bounds, transition: "flyToBounds", options: { padding: [24, 24], duration: 1.5 } };
        }
        const u = Math.min(window.innerWidth / 100, window.innerHeight / 56.25);
        const pad = Math.round(2.5 * u);
        const right = Math.round(14.5 * u) + pad;
        return {
          bounds: target.bounds, transition: "flyToBounds",
          options: { paddingTopLeft: [pad, pad], paddingBottomRight: [right, pad], duration: 1.5 },
        };
      },
      /* Hide unit labels that would overlap an earlier one (dense urban townships); returns how many are hidden. */
      declutter: function () {
        const spans = Array.from(document.querySelectorAll(".bs-map .cm-label span"));
        const kept = [];
        let hidden = 0;
        spans.forEach((span) => {
          span.style.visibility = "";
          const r = span.getBoundingClientRect();
          const clash = kept.some((k) => r.left < k.right + 2 && r.right > k.left - 2 && r.top < k.bottom && r.bottom > k.top);
          if (clash) { span.style.visibility = "hidden"; hidden += 1; } else { kept.push(r); }
        });
        return hidden;
      },
      scaleFigure: function (figure) {
        if (!figure) { return window.dash_clientside.no_update; }
        const k = Math.max(0.6, Math.min(window.innerWidth / 1920, window.innerHeight / 1080));
        const out = JSON.parse(JSON.stringify(figure));
        scaleFonts(out.layout || {}, k);
        return out;
      },
    },
  });
}());
