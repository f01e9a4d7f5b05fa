// Small enhancements of the follow-up pages; every form works without them.
(function () {
  "use strict";
  if (window.replywatchFlows) return;  // included by more than one part of a page
  window.replywatchFlows = true;

  // First visit: the user never chose a time zone, so take the browser's (once) and redraw
  // the page in it. The server ignores it if a zone was chosen meanwhile.
  var auto = document.getElementById("zone-auto");
  if (auto && window.Intl && window.fetch) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // On Defaults the zone field is preselected with it (and the page is not redrawn, so
    // nothing typed is lost); elsewhere the page is redrawn once the server took it.
    var field = document.getElementById("timezone");
    if (zone && field && field.value === "UTC") field.value = zone;
    if (zone) {
      var data = new FormData(auto);
      data.append("zone", zone);
      fetch(auto.action, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.taken && !field) window.location.replace(window.location.href);
        })
        .catch(function () {});
    }
  }

  // A choice that changes what the page lists (the account) reloads the list at once.
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // The sent-mail search narrows the list as you type (Search asks the server again).
  document.querySelectorAll("[data-filter]").forEach(function (input) {
    var list = document.querySelector(input.getAttribute("data-filter"));
    var none = document.getElementById("sent-none");
    if (!list) return;
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      Array.prototype.forEach.call(list.children, function (row) {
        var text = row.textContent.toLowerCase();
        var hit = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !hit;
        if (hit) shown++;
      });
      if (none) none.hidden = shown > 0;
    });
  });
  // A button that asks first opens its <dialog>, whose buttons say what they do ("Stop the
  // follow-up", "Keep it"), instead of the browser's OK/Cancel. Without JS it acts at once.
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && dialog.showModal) {
        e.preventDefault();
        dialog.showModal();
      }
      return;
    }
    var closer = e.target.closest("dialog [data-close]");
    if (closer) closer.closest("dialog").close();
  });
})();
