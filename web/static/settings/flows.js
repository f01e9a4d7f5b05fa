// Small enhancements of the follow-up pages; every form works without them.
(function () {
  "use strict";

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
})();
