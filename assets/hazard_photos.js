/* The hazard loop's photos and position (dashboard/hazard): shrink picked photos before they are sent, the
 * camera input, 使用我的位置.
 *
 * A Dash callback body is limited to 2 MiB (dashboard/websec.py) and a phone photo is 3–8 MB, so each picked
 * photo is drawn on a canvas with its longer side at most MAX_SIDE px and re-encoded as JPEG (QUALITY): three
 * come to well under a megabyte, and the canvas keeps no EXIF. The server cleans them again
 * (dashboard/components/photos.py). A file the browser cannot decode goes through unchanged, so the server's
 * Chinese refusal names it. dcc.Upload has no `capture` property: the camera input gets it here.
 */
(function () {
  "use strict";
  var MAX_SIDE = 1600;
  var QUALITY = 0.85;
  var MAX_COUNT = 3;  // dashboard/components/photos.py PhotoSettings.max_count
  var MAX_TOTAL = 1800000;  // characters of data URLs per submit: the 2 MiB body with room for the form
  var ns = (window.dash_clientside = window.dash_clientside || {});
  function skip() { return window.dash_clientside.no_update; }

  function load(url) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = reject;
      img.src = url;
    });
  }

  function shrinkOne(url) {
    if (typeof url !== "string" || url.indexOf("data:image/") !== 0) { return Promise.resolve(url); }
    return load(url).then(function (img) {
      var w = img.naturalWidth, h = img.naturalHeight;  // EXIF orientation already applied by the browser
      var f = Math.min(1, MAX_SIDE / Math.max(w, h, 1));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(w * f));
      canvas.height = Math.max(1, Math.round(h * f));
      var g = canvas.getContext("2d");
      g.fillStyle = "#fff";  // transparent PNG areas come out white, not black
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(img, 0, 0, canvas.width, canvas.height);
      return canvas.toDataURL("image/jpeg", QUALITY);
    }, function () { return url; });
  }

  function asList(v) { return v == null ? [] : Array.isArray(v) ? v : [v]; }

  function kb(n) { return Math.round(n * 3 / 4 / 1024); }

  ns.safegrid_hazard = {
    /* Append the photos just picked (camera or album), shrunk, to the action's hidden input (JSON); 清除照片 empties it. */
    shrink: function (contents, clears, filenames, picked) {
      var dc = window.dash_clientside, ctx = dc.callback_context || {};  // the renderer sets them per call
      var trig = (ctx.triggered && ctx.triggered[0] && ctx.triggered[0].prop_id) || "";
      if (trig.indexOf("hz-photo-clear") !== -1) { return ["", ""]; }
      var store = picked ? JSON.parse(picked) : null;
      var ids = (ctx.inputs_list && ctx.inputs_list[0]) || [];
      var at = -1;
      ids.forEach(function (item, i) {
        if (trig.indexOf('"src":"' + item.id.src + '"') !== -1) { at = i; }
      });
      if (at < 0) { return [skip(), skip()]; }
      var picked = asList(contents[at]);
      var names = asList(filenames[at]);
      var files = (store && store.files) || [];
      var kept = (store && store.names) || [];
      if (!picked.length) { return [skip(), skip()]; }
      if (files.length + picked.length > MAX_COUNT) {
        return [skip(), "最多上传 " + MAX_COUNT + " 张照片（已选择 " + files.length + " 张），请先清除再选择。"];
      }
      return Promise.all(picked.map(shrinkOne)).then(function (small) {
        var all = files.concat(small);
        var total = all.reduce(function (n, u) { return n + (u ? u.length : 0); }, 0);
        if (total > MAX_TOTAL) {
          return [skip(), "照片过大：压缩后合计约 " + kb(total) + " KB，超过一次提交的上限，请少选几张。"];
        }
        var allNames = kept.concat(picked.map(function (_, i) { return String(names[i] || "照片"); }));
        return [JSON.stringify({files: all, names: allNames}),
                "已选择 " + all.length + " 张照片（压缩后约 " + kb(total) + " KB），提交时一并上传。"];
      });
    },
    /* 使用我的位置: the browser's position (WGS-84) into the report form's latitude and longitude. */
    locate: function () {
      if (!navigator.geolocation) {
        return [skip(), skip(), "此浏览器无法定位：请填写纬度和经度。"];
      }
      return new Promise(function (resolve) {
        navigator.geolocation.getCurrentPosition(function (pos) {
          var lat = pos.coords.latitude.toFixed(6), lon = pos.coords.longitude.toFixed(6);
          resolve([lat, lon, "已定位：纬度 " + lat + "，经度 " + lon + "（精度约 " +
                   Math.round(pos.coords.accuracy) + " 米）"]);
        }, function () {
          resolve([skip(), skip(), "无法获取位置：请允许浏览器使用位置信息，或填写纬度和经度。"]);
        }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
      });
    }
  };

  /* The camera input opens the camera on a phone (the album input keeps the gallery). */
  function camera() {
    var inputs = document.querySelectorAll(".hz-upload-camera input[type=file]:not([capture])");
    for (var i = 0; i < inputs.length; i++) { inputs[i].setAttribute("capture", "environment"); }
  }
  new MutationObserver(camera).observe(document.documentElement, {childList: true, subtree: true});
}());
