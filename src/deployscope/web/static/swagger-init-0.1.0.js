// Starts Swagger UI on /docs from the vendored bundle (an external file: the CSP forbids inline scripts).
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null, // never ask validator.swagger.io
    deepLinking: true,
    showExtensions: true, // x-unit and x-default of the scenario fields
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
