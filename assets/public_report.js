/* 随手拍 public report page (/report): the position from the browser, photo count/size hints, no double submit.
   Dash loads every asset on its own pages too: nothing runs unless the report form is on the page. */
(function () {
    "use strict";
    function start() {
        var form = document.getElementById("pr-form");
        if (!form) { return; }
        var locate = document.getElementById("pr-locate");
        var located = document.getElementById("pr-located");
        var lat = document.getElementById("pr-lat");
        var lon = document.getElementById("pr-lon");
        var manual = document.getElementById("pr-manual");
        var photos = document.getElementById("pr-photos");
        var note = document.getElementById("pr-photo-note");
        var submit = document.getElementById("pr-submit");

        function show(text, ok) {
            located.textContent = text;
            located.className = ok ? "pr-located pr-ok-text" : "pr-located";
        }
        if (navigator.geolocation) {
            locate.hidden = false;
            locate.addEventListener("click", function () {
                show("正在定位…", false);
                navigator.geolocation.getCurrentPosition(function (pos) {
                    lat.value = pos.coords.latitude.toFixed(6);
                    lon.value = pos.coords.longitude.toFixed(6);
                    show("已定位：纬度 " + lat.value + "，经度 " + lon.value +
                         "（精度约 " + Math.round(pos.coords.accuracy) + " 米）", true);
                }, function () {
                    show("无法获取位置：请允许浏览器使用位置信息，或手动填写经纬度。", false);
                    manual.open = true;
                }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
            });
        } else {
            manual.open = true;
        }
        photos.addEventListener("change", function () {
            var max = parseInt(photos.dataset.maxCount, 10), bytes = parseInt(photos.dataset.maxBytes, 10);
            var files = Array.prototype.slice.call(photos.files), bad = "";
            if (files.length > max) { bad = "最多上传 " + max + " 张照片"; }
            files.forEach(function (f) {
                if (f.size > bytes) { bad = "“" + f.name + "”过大（每张不超过 " + bytes / 1048576 + " MB）"; }
            });
            note.textContent = bad || (files.length ? "已选择 " + files.length + " 张照片：" +
                files.map(function (f) { return f.name; }).join("、") : "");
            note.className = bad ? "pr-note pr-bad" : "pr-note";
            photos.setCustomValidity(bad);
        });
        form.addEventListener("submit", function (ev) {
            if (photos.validationMessage) { ev.preventDefault(); note.scrollIntoView(); return; }
            if (!lat.value || !lon.value) {
                ev.preventDefault();
                show("请先定位，或手动填写隐患位置的纬度和经度。", false);
                manual.open = true;
                return;
            }
            submit.disabled = true;  // the request key makes a second submit harmless; this spares the upload
            submit.textContent = "正在提交…";
        });
    }
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
