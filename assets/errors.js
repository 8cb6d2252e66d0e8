/* SafeGrid: say so on the page when the server cannot answer (docs/security.md "Availability: timeouts").
 *
 * Dash's renderer shows nothing when a callback answers 5xx (an outage makes the per-request account
 * check fail before any callback runs, so the shell's on_error alert never sees it), and the map and
 * risk layers fetch /api/... themselves. This wraps window.fetch: an answer of /_dash-update-component
 * or /api/... with HTTP 5xx, a network error, or no answer within SLOW_MS shows a banner (the server's
 * Chinese message when it sent one: outage and misconfiguration read differently); the next such
 * request answered below 500 hides it again.
 */
(function () {
  "use strict";
  if (!window.fetch || window.safegrid_errors) { return; }
  var SLOW_MS = 20000;
  var MSG_HTTP = "服务器暂时无法处理请求（HTTP {status}），请稍后重试；如持续出现请联系系统管理员。";
  var MSG_NETWORK = "无法连接服务器，请检查网络连接；连接恢复后操作即可继续。";
  var MSG_SLOW = "服务器响应超时，请稍后重试；如持续出现请联系系统管理员。";
  var CJK = /[\u3400-\u9fff]/;
  var nativeFetch = window.fetch.bind(window);
  var banner = null;
  var shownBy = 0;  // id of the request whose failure the banner shows (0: hidden)
  var seq = 0;
  var lastOk = 0;  // newest request answered below 500: an older failure read later does not show

  function watched(input) {
    var url = typeof input === "string" ? input : (input && input.url) || String(input);
    var path;
    try { path = new URL(url, window.location.href).pathname; } catch (e) { return false; }
    return path.indexOf("/_dash-update-component") !== -1 || path.indexOf("/api/") !== -1;
  }

  function ensureBanner() {
    if (banner && document.body.contains(banner)) { return banner; }
    banner = document.createElement("div");
    banner.id = "sg-net-alert";
    banner.className = "sg-alert sg-net-alert";
    banner.setAttribute("role", "alert");
    banner.hidden = true;
    var s = banner.style;  // CSSOM, not a style attribute (allowed by the CSP)
    s.position = "fixed"; s.bottom = "16px"; s.left = "50%"; s.transform = "translateX(-50%)";
    s.zIndex = "10000"; s.maxWidth = "min(90vw, 720px)"; s.boxShadow = "0 2px 8px rgba(0,0,0,.25)";
    s.pointerEvents = "none";  // never in the way of the menu, the map or the retry the user makes
    document.body.appendChild(banner);
    return banner;
  }

  function show(id, text) {
    var el = ensureBanner();
    el.textContent = text;
    el.hidden = false;
    shownBy = id;
  }

  function hide() {
    if (banner) { banner.hidden = true; }
    shownBy = 0;
  }

  function messageOf(resp) {
    var fallback = MSG_HTTP.replace("{status}", String(resp.status));
    return resp.clone().json().then(function (body) {
      var text = body && typeof body.error === "string" ? body.error : "";
      return CJK.test(text) ? text : fallback;
    }, function () { return fallback; });
  }

  window.fetch = function (input, init) {
    if (!watched(input)) { return nativeFetch(input, init); }
    var id = ++seq;
    var slow = window.setTimeout(function () { show(id, MSG_SLOW); }, SLOW_MS);
    return nativeFetch(input, init).then(function (resp) {
      window.clearTimeout(slow);
      if (resp.status >= 500) {
        messageOf(resp).then(function (text) { if (lastOk < id) { show(id, text); } });
      } else {
        lastOk = Math.max(lastOk, id);
        if (shownBy && shownBy < id) { hide(); }
      }
      return resp;
    }, function (err) {
      window.clearTimeout(slow);
      if (!(err && err.name === "AbortError")) { show(id, MSG_NETWORK); }
      else if (shownBy === id) { hide(); }
      throw err;
    });
  };

  window.safegrid_errors = { banner: function () { return banner; }, hide: hide };
}());
