// Small enhancements; every form works without them.
(function () {
  "use strict";

  // One alert at a time: several at once drown each other out. The first one speaks; any
  // other (a field's own error, say) becomes a polite status.
  Array.prototype.slice.call(document.querySelectorAll("[role=alert]"), 1).forEach(function (el) {
    el.setAttribute("role", "status");
  });

  // After a form was sent, put focus on its outcome, so a keyboard or screen-reader user
  // lands on it instead of the top of the page: the alert (what went wrong), else the first
  // marked field, else the flashed result; tabindex=-1 makes a message focusable.
  var outcome = document.querySelector("main [role=alert]") ||
    document.querySelector("main [aria-invalid=true], main .has-error :is(input, select, textarea)") ||
    document.querySelector("main .flash[data-result]");
  if (outcome) {
    if (!outcome.matches("input, select, textarea, a, button")) outcome.setAttribute("tabindex", "-1");
    outcome.focus({ preventScroll: false });
  }

  // A table wider than its card: say that it scrolls (the edge shadows alone are easy to miss).
  Array.prototype.forEach.call(document.querySelectorAll(".table-scroll"), function (box) {
    if (box.scrollWidth <= box.clientWidth + 1) return;
    var cue = document.createElement("p");
    cue.className = "scroll-cue";
    cue.textContent = "More columns: scroll sideways →";
    box.parentNode.insertBefore(cue, box);
  });

  // Confirm destructive buttons.
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-confirm]");
    if (b && !window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
  });

  // Defaults: suggest the browser's time zone.
  var tz = document.getElementById("timezone");
  var suggest = document.getElementById("tz-suggest");
  if (tz && suggest && window.Intl) {
    var browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var known = Array.prototype.some.call(tz.options, function (o) { return o.value === browserZone; });
    if (browserZone && known && browserZone !== tz.value) {
      document.getElementById("tz-name").textContent = browserZone;
      suggest.hidden = false;
      document.getElementById("tz-use").addEventListener("click", function () {
        tz.value = browserZone;
        suggest.hidden = true;
      });
    }
  }

  // Defaults: live preview of the bump text (rendered by the server's own template code).
  var template = document.querySelector("[data-preview-url]");
  var preview = document.getElementById("preview");
  var previewError = document.getElementById("preview-error");
  if (template && preview) {
    var timer = null;
    var seq = 0;
    template.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++seq;
        var url = template.getAttribute("data-preview-url") + "?template=" + encodeURIComponent(template.value);
        fetch(url, { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (data) {
            if (mine !== seq) return;
            if (data.error) {
              previewError.textContent = data.error;
              previewError.hidden = false;
            } else {
              preview.textContent = data.text;
              previewError.hidden = true;
            }
          })
          .catch(function () {});
      }, 200);
    });
  }

  // IMAP form: a provider preset fills in the servers.
  var preset = document.querySelector("[data-presets]");
  if (preset) {
    var presets = JSON.parse(preset.getAttribute("data-presets"));
    var hint = document.getElementById("preset-hint");
    var servers = document.getElementById("servers");
    preset.addEventListener("change", function () {
      var p = presets[preset.value] || {};
      ["imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security"].forEach(function (k) {
        var el = document.getElementById(k);
        if (el && p[k] !== undefined) el.value = p[k];
      });
      if (hint) hint.textContent = p.hint || "";
      var evidence = document.getElementById("evidence-hint");
      if (evidence) evidence.textContent = p.evidence_hint || "";
      if (servers) servers.open = preset.value === "custom";
    });
  }
})();
