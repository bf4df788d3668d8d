// Keyboard shortcuts for the review queue. No dependencies; served by the app itself.
(function () {
  "use strict";

  function typing(event) {
    var el = event.target;
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  function submit(id) {
    var form = document.getElementById(id);
    if (form) { if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); } }
  }

  function focus(id) {
    var el = document.getElementById(id);
    if (el) { el.focus(); if (el.select && el.tagName.toLowerCase() === "input") el.select(); }
    return !!el;
  }

  function follow(id) {
    var link = document.getElementById(id);
    if (link && link.href) window.location.href = link.href;
  }

  // Queue page: j/k move the selection, Enter or o opens it.
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue-table tr.row"));
  var selected = rows.length ? 0 : -1;
  function select(index) {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
    rows[selected].scrollIntoView({ block: "nearest" });
  }
  if (rows.length) select(0);

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") { if (document.activeElement) document.activeElement.blur(); return; }
    if (typing(event)) return;
    var page = document.body.getAttribute("data-page");
    var handled = true;
    switch (event.key) {
      case "j": if (page === "queue") select(selected + 1); else handled = false; break;
      case "k": if (page === "queue") select(selected - 1); else handled = false; break;
      case "Enter": case "o":
        if (page === "queue" && selected >= 0) window.location.href = rows[selected].getAttribute("data-href");
        else handled = false;
        break;
      case "a": submit("approve-form"); break;
      case "r": focus("reject-reason"); break;
      case "e": focus("edit-relationship"); break;
      case "n": focus("edit-note"); break;
      case "p": focus("repoint-source"); break;
      case "s": follow("skip-link"); break;
      case "u": submit("undo-form"); break;
      case "q": follow("queue-link"); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });
})();
