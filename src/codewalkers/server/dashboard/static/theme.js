// Before the first paint: the theme saved by the toggle (light, dark, or system).
(function () {
  "use strict";
  var theme = "system";
  try { theme = localStorage.getItem("cw-theme") || "system"; } catch (e) { /* private mode */ }
  document.documentElement.dataset.theme = theme;
})();
