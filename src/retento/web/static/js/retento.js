// Small behaviours shared by all pages: error toasts for htmx, cloning form rows, charts.
(function () {
  "use strict";

  function toast(message) {
    var el = document.getElementById("toast");
    if (!el) return;
    el.textContent = message;
    el.hidden = false;
    clearTimeout(el._timer);
    el._timer = setTimeout(function () { el.hidden = true; }, 6000);
  }

  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var text = (document.body.dataset.errorText || "Error") + " " + xhr.status;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var h1 = doc.querySelector("h1");
    var msg = doc.querySelector(".error-message");
    if (h1) text = h1.textContent + (msg ? ": " + msg.textContent : "");
    toast(text);
  });
  document.addEventListener("htmx:sendError", function () {
    toast(document.body.dataset.offlineText || "The server cannot be reached.");
  });

  // <form data-confirm="Question?"> asks before submitting.
  document.addEventListener("submit", function (evt) {
    var form = evt.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) evt.preventDefault();
  }, true);

  // <form data-action-from="survey" data-action-pattern="/surveys/{}/respond">: the form's
  // action follows the chosen option (no inline handlers: the CSP allows only these files).
  document.addEventListener("submit", function (evt) {
    var form = evt.target.closest("form[data-action-pattern]");
    if (!form || evt.defaultPrevented) return;
    var field = form.elements[form.dataset.actionFrom];
    if (field && field.value) {
      form.action = form.dataset.actionPattern.replace("{}", encodeURIComponent(field.value));
    }
  });

  // <a data-history-back href="/">: go back if there is somewhere to go back to.
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest("a[data-history-back]");
    if (link && window.history.length > 1) {
      evt.preventDefault();
      window.history.back();
    }
  });

  // <button data-copy="#field-id" data-copied="Copied">: copy the field's value.
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest("button[data-copy]");
    if (!btn) return;
    var field = document.querySelector(btn.getAttribute("data-copy"));
    if (!field) return;
    var done = function () { btn.textContent = btn.getAttribute("data-copied") || btn.textContent; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.select();
      if (document.execCommand("copy")) done();
    }
  });

  // "Add a row" buttons: <button data-add-row="#tpl-id" data-into="#rows-id">.
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest("[data-add-row]");
    if (!btn) return;
    evt.preventDefault();
    var tpl = document.querySelector(btn.dataset.addRow);
    var into = document.querySelector(btn.dataset.into);
    var index = into.querySelectorAll(".row:not(.row-head)").length;
    var html = tpl.innerHTML.replace(/__i__/g, String(index));
    into.insertAdjacentHTML("beforeend", html);
  });

  // <input type="checkbox" data-check-all="selector">: tick or untick every box it names.
  document.addEventListener("change", function (evt) {
    var all = evt.target.closest("input[data-check-all]");
    if (!all) return;
    document.querySelectorAll(all.dataset.checkAll).forEach(function (box) {
      box.checked = all.checked;
    });
  });

  // Dashboard period filters (form.dash-filters): the server reads From/To only with the
  // "Custom dates" period, so dates typed under a preset were silently ignored. Typing a date
  // chooses "Custom dates"; choosing a preset empties the dates (they would no longer apply).
  document.addEventListener("change", function (evt) {
    var form = evt.target.closest("form.dash-filters");
    if (!form || !form.elements.period) return;
    var period = form.elements.period;
    var name = evt.target.name;
    if ((name === "from" || name === "to") && evt.target.value &&
        period.querySelector("option[value='custom']")) {
      period.value = "custom";
    } else if (name === "period" && period.value !== "custom") {
      ["from", "to"].forEach(function (n) { if (form.elements[n]) form.elements[n].value = ""; });
    }
  });

  // Order lines: show the product's list price as the unit price placeholder.
  document.addEventListener("change", function (evt) {
    var sel = evt.target.closest("select[data-price-target]");
    if (!sel) return;
    var opt = sel.options[sel.selectedIndex];
    var input = document.getElementById(sel.dataset.priceTarget);
    if (input) input.placeholder = opt && opt.dataset.price ? opt.dataset.price : "";
  });

  // ECharts lays labels out by their widths measured on a canvas, which knows nothing of the
  // page's language, while it draws them as SVG text in that language: on a Chinese page Latin
  // text is drawn in the CJK font, some 7 % wider than measured, and a long label ran over the
  // chart's edge or into its neighbour. Measure on a canvas told the page's language instead.
  var measuring = false;
  function measureInPageLanguage() {
    if (measuring || !window.echarts || !window.echarts.setPlatformAPI) return;
    measuring = true;
    var ctx = document.createElement("canvas").getContext("2d");
    if (!ctx || !("lang" in ctx)) return;
    ctx.lang = document.documentElement.lang || "en";
    var font = "";
    window.echarts.setPlatformAPI({
      measureText: function (text, f) {
        f = f || "12px sans-serif";
        if (f !== font) ctx.font = font = f;
        return ctx.measureText(text);
      }
    });
  }
  measureInPageLanguage();

  // Charts: <div class="chart" data-chart='{"echarts option": ...}'>.
  function drawCharts(root) {
    if (!window.echarts) return;
    measureInPageLanguage();
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el._chart) return;
      el._chart = window.echarts.init(el, null, { renderer: "svg" });
      // Marked once drawn and its entrance animation is over (points are clickable from then).
      el._chart.on("finished", function () { el.setAttribute("data-chart-ready", ""); });
      el._chart.setOption(JSON.parse(el.dataset.chart));
      // data-chart-link="/customers/": clicking a point whose third value is an id opens it.
      if (el.dataset.chartLink) {
        el._chart.on("click", function (p) {
          if (p.value && p.value.length > 2) window.location.href = el.dataset.chartLink + p.value[2];
        });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });

  // The header menus (More, Administration, the user's) close on a click elsewhere or Escape.
  document.addEventListener("click", function (evt) {
    document.querySelectorAll("details.navmenu[open]").forEach(function (menu) {
      if (!menu.contains(evt.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    document.querySelectorAll("details.navmenu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
    });
  });
  document.addEventListener("htmx:afterSettle", function (evt) { drawCharts(evt.target); });
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) { if (el._chart) el._chart.resize(); });
  });
})();
