/* Phones: a fit's padding never takes more than 40 % of the map (assets/phone.css has the layout).
 *
 * The command map fits each unit with room for its desktop legend (paddingBottomRight 236 px, see
 * dashboard/command_map/callbacks.py FIT_OPTIONS). On a 360-px-wide phone that left 72 px for the unit,
 * so it showed as a speck. Leaflet computes every fitBounds / flyToBounds in _getBoundsCenterZoom; here
 * the padding is scaled down when it would take more than MAX_SHARE of the map's width or height, on
 * screens as narrow as phone.css's breakpoint only: wider screens fit exactly as before.
 */
(function clampFitPadding() {
  "use strict";
  const MAX_SHARE = 0.4;
  const PHONE = window.matchMedia("(max-width: 700px)");  // the breakpoint of assets/phone.css
  const L = window.L;
  if (!(L && L.Map && L.Map.prototype._getBoundsCenterZoom)) {
    setTimeout(clampFitPadding, 30);  // Leaflet arrives with the dash-leaflet bundle
    return;
  }
  const original = L.Map.prototype._getBoundsCenterZoom;
  L.Map.prototype._getBoundsCenterZoom = function (bounds, options) {
    const o = options || {};
    if (PHONE.matches && (o.padding || o.paddingTopLeft || o.paddingBottomRight)) {
      const size = this.getSize();
      const tl = L.point(o.paddingTopLeft || o.padding || [0, 0]);
      const br = L.point(o.paddingBottomRight || o.padding || [0, 0]);
      const fx = Math.min(1, (MAX_SHARE * size.x) / Math.max(1, tl.x + br.x));
      const fy = Math.min(1, (MAX_SHARE * size.y) / Math.max(1, tl.y + br.y));
      if (fx < 1 || fy < 1) {
        options = Object.assign({}, o, {
          padding: null,
          paddingTopLeft: [tl.x * fx, tl.y * fy],
          paddingBottomRight: [br.x * fx, br.y * fy],
        });
      }
    }
    return original.call(this, bounds, options);
  };
}());
