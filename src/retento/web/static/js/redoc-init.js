// Starts ReDoc on /redoc (an external file: the Content-Security-Policy forbids inline script).
(function () {
  "use strict";
  var el = document.getElementById("redoc");
  if (!el || !window.Redoc) return;
  window.Redoc.init(el.dataset.specUrl, {}, el);
})();
