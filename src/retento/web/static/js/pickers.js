// Search-as-you-type pickers (templates/pickers.html, web/pickers.py). Progressive enhancement:
// the server renders a plain id input; here it becomes hidden and a combobox searches through
// htmx (GET /pickers/<kind>?q=), chosen with the mouse or Arrow keys + Enter, closed by Escape.
//
// Answers come late: a request leaves 200 ms after the last key and takes its time, so the list
// may still show the options of an earlier text ("华" while the box says "华联"). The list
// records the text its options answer (data-q); Enter on options of an earlier text asks at once
// and picks the best match of what the box says when that answer comes, never a stale option
// (Tab leaves a stale list alone). A list the person closed (Escape, a pick, leaving the box)
// stays closed when an answer arrives after that; typing again reopens it.
(function () {
  "use strict";
  if (window.retentoPickers) return;  // included by more than one template on a page
  window.retentoPickers = true;

  function parts(box) {
    return {
      value: box.querySelector(".picker-value"),
      search: box.querySelector(".picker-search"),
      list: box.querySelector(".picker-options"),
      chosen: box.querySelector(".picker-chosen")
    };
  }

  function setup(root) {
    root.querySelectorAll("[data-picker]:not([data-picker-ready])").forEach(function (box) {
      var p = parts(box);
      if (!p.value || !p.search || !p.list) return;
      box.setAttribute("data-picker-ready", "");
      p.value.type = "hidden";
      box.querySelector(".picker-box").hidden = false;
      var label = box.querySelector("label");
      if (label) label.htmlFor = p.search.id;
      // A typed number the server could not label (e.g. an unknown one): keep it visible.
      if (!p.search.value && p.value.value) p.search.value = p.value.value;
    });
  }

  function options(p) {
    return Array.prototype.slice.call(p.list.querySelectorAll(".picker-option[data-id]"));
  }

  function close(p) {
    p.list.hidden = true;
    p.search.setAttribute("aria-expanded", "false");
    p.search.removeAttribute("aria-activedescendant");
  }

  function activate(p, index) {
    var opts = options(p);
    opts.forEach(function (o, i) {
      o.setAttribute("aria-selected", i === index ? "true" : "false");
      o.classList.toggle("is-active", i === index);
    });
    if (index >= 0 && opts[index]) {
      p.search.setAttribute("aria-activedescendant", opts[index].id);
      opts[index].scrollIntoView({ block: "nearest" });
    } else {
      p.search.removeAttribute("aria-activedescendant");
    }
  }

  function activeIndex(p) {
    return options(p).findIndex(function (o) { return o.classList.contains("is-active"); });
  }

  // The options on show answer what the box says now (not an earlier text).
  function current(p) {
    return p.list.dataset.q === p.search.value.trim();
  }

  function pick(box, option) {
    var p = parts(box);
    p.value.value = option.dataset.id;
    p.search.value = option.dataset.label;
    p.chosen.textContent = "";
    var strong = document.createElement("span");
    strong.className = "picker-chosen-label";
    strong.textContent = option.dataset.label;
    p.chosen.appendChild(strong);
    if (option.dataset.detail) p.chosen.appendChild(document.createTextNode(" · " + option.dataset.detail));
    box.pickerClosed = true;
    box.pickerPickOnAnswer = false;
    close(p);
    p.value.dispatchEvent(new Event("change", { bubbles: true }));
    if (box.hasAttribute("data-picker-submit") && box.closest("form")) box.closest("form").requestSubmit();
  }

  document.addEventListener("DOMContentLoaded", function () { setup(document); });
  document.addEventListener("htmx:load", function (evt) { setup(evt.target); });

  // The search box has no name (it is not submitted with the form): send its text as ?q=.
  document.addEventListener("htmx:configRequest", function (evt) {
    var elt = evt.detail.elt;
    if (elt && elt.classList && elt.classList.contains("picker-search")) {
      evt.detail.parameters.q = elt.value;
    }
  });

  document.addEventListener("htmx:afterSwap", function (evt) {
    var list = evt.target;
    if (!list.classList || !list.classList.contains("picker-options")) return;
    var box = list.closest("[data-picker]");
    var p = parts(box);
    var config = evt.detail && evt.detail.requestConfig;
    list.dataset.q = String((config && config.parameters.q) || "").trim();
    if (box.pickerPickOnAnswer && current(p)) {
      box.pickerPickOnAnswer = false;
      if (options(p).length) {
        pick(box, options(p)[0]);
        return;
      }
      box.pickerClosed = false;  // nothing matches: show it
    }
    var open = list.children.length > 0 && p.search.value.trim() !== "" && !box.pickerClosed;
    list.hidden = !open;
    p.search.setAttribute("aria-expanded", open ? "true" : "false");
    activate(p, options(p).length ? 0 : -1);
  });

  document.addEventListener("input", function (evt) {
    var search = evt.target.closest(".picker-search");
    if (!search) return;
    var box = search.closest("[data-picker]");
    var p = parts(box);
    box.pickerClosed = false;
    box.pickerPickOnAnswer = false;
    // Typing again drops the earlier choice: what is submitted is always what is shown.
    if (p.value.value) {
      p.value.value = "";
      p.chosen.textContent = box.dataset.help || "";
    }
    if (!search.value.trim()) {
      p.list.textContent = "";
      close(p);
    }
  });

  document.addEventListener("keydown", function (evt) {
    var search = evt.target.closest && evt.target.closest(".picker-search");
    if (!search) return;
    var box = search.closest("[data-picker]");
    var p = parts(box);
    var opts = options(p);
    var i = activeIndex(p);
    if (evt.key === "ArrowDown" || evt.key === "ArrowUp") {
      evt.preventDefault();
      if (p.list.hidden && opts.length) {
        box.pickerClosed = false;
        p.list.hidden = false;
        search.setAttribute("aria-expanded", "true");
      }
      if (!opts.length) return;
      var step = evt.key === "ArrowDown" ? 1 : -1;
      activate(p, (i + step + opts.length) % opts.length);
    } else if (evt.key === "Enter") {
      // Enter in the search box picks; it never submits the form half-filled.
      evt.preventDefault();
      if (!p.value.value && search.value.trim() && !current(p)) {
        // The options answer an earlier text: ask for this one now, pick when it answers.
        box.pickerPickOnAnswer = true;
        search.dispatchEvent(new Event("search"));
      } else if (!p.list.hidden && opts.length) {
        pick(box, opts[i >= 0 ? i : 0]);
      }
    } else if (evt.key === "Escape" && !p.list.hidden) {
      evt.preventDefault();
      box.pickerClosed = true;
      box.pickerPickOnAnswer = false;
      close(p);
    } else if (evt.key === "Tab" && !p.list.hidden && i >= 0 && !p.value.value && current(p)) {
      pick(box, opts[i]);
    }
  });

  // mousedown, not click: the search box keeps the focus, so blur does not close the list first.
  document.addEventListener("mousedown", function (evt) {
    var option = evt.target.closest(".picker-option[data-id]");
    if (!option) return;
    evt.preventDefault();
    pick(option.closest("[data-picker]"), option);
  });

  document.addEventListener("focusout", function (evt) {
    var search = evt.target.closest && evt.target.closest(".picker-search");
    if (!search) return;
    var box = search.closest("[data-picker]");
    box.pickerClosed = true;
    box.pickerPickOnAnswer = false;
    close(parts(box));
  });
})();
