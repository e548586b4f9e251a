// Starts Swagger UI on /docs (an external file: the Content-Security-Policy forbids inline script).
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  if (!el || !window.SwaggerUIBundle) return;
  var csrf = el.dataset.csrfToken || "";
  window.ui = window.SwaggerUIBundle({
    url: el.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
    // Logged-in browsers call the API with their session cookie, which needs the CSRF header
    // on writes; calls with a bearer token ignore it.
    requestInterceptor: function (req) {
      if (csrf) req.headers["X-CSRF-Token"] = csrf;
      return req;
    }
  });
})();
