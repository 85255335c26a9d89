// Deployscope web app: small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    // Form / YAML tabs on the scenario page: show one pane at a time.
    document.querySelectorAll("[data-tabs]").forEach(function (bar) {
      var tabs = bar.querySelectorAll("[data-tab]");
      function show(id) {
        tabs.forEach(function (t) {
          var on = t.getAttribute("data-tab") === id;
          t.classList.toggle("ds-active", on);
          var pane = document.getElementById(t.getAttribute("data-tab"));
          if (pane) pane.hidden = !on;
        });
      }
      tabs.forEach(function (t) {
        t.addEventListener("click", function () { show(t.getAttribute("data-tab")); });
      });
      // open the YAML tab when the error is only shown there
      show(document.getElementById("yaml-error") ? "pane-yaml" : "pane-form");
      bar.hidden = false;
    });
    // Confirm destructive actions.
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
    // Lists of ids as chips: the original input keeps the comma-separated value the server reads;
    // a second input (with the same catalog picker) adds chips on Enter, comma or a pick.
    document.querySelectorAll("input[data-chips]").forEach(function (source) {
      var box = document.createElement("span");
      box.className = "ds-chips";
      var entry = document.createElement("input");
      entry.setAttribute("aria-label", "add to " + (source.id || "list"));
      entry.placeholder = "type or pick, then Enter";
      if (source.getAttribute("list")) entry.setAttribute("list", source.getAttribute("list"));
      entry.autocomplete = "off";
      function values() {
        return source.value.split(/[,\n]/).map(function (v) { return v.trim(); }).filter(Boolean);
      }
      function render() {
        box.textContent = "";
        values().forEach(function (v, i) {
          var chip = document.createElement("span");
          chip.className = "ds-chip";
          chip.textContent = v;
          var x = document.createElement("button");
          x.type = "button";
          x.textContent = "×";
          x.setAttribute("aria-label", "remove " + v);
          x.addEventListener("click", function () {
            var vs = values(); vs.splice(i, 1); source.value = vs.join(", "); render();
          });
          chip.appendChild(x);
          box.appendChild(chip);
        });
      }
      function add() {
        var v = entry.value.replace(/,/g, " ").trim();
        if (!v) return;
        var vs = values();
        if (vs.indexOf(v) < 0) vs.push(v);
        source.value = vs.join(", ");
        entry.value = "";
        render();
      }
      entry.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === ",") { e.preventDefault(); add(); }
      });
      entry.addEventListener("change", add);
      source.type = "hidden";
      source.parentNode.insertBefore(box, source);
      source.parentNode.insertBefore(entry, source);
      render();
    });
    // Scroll the first invalid field into view.
    var bad = document.querySelector(".ds-invalid input, .ds-invalid select");
    if (bad) { bad.focus(); }
  });
})();
