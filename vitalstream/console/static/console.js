// Live updates over Server-Sent Events: every element with data-live="/events/<feed>" is
// replaced by the server-rendered fragment the feed sends. No polling, no page reload.
"use strict";
(function () {
  function keepSelection(el, update) {
    const checked = new Set(Array.from(el.querySelectorAll("input[type=checkbox]:checked")).map((c) => c.name + "=" + c.value));
    const focusedId = document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : null;
    update();
    el.querySelectorAll("input[type=checkbox]").forEach((c) => {
      if (checked.has(c.name + "=" + c.value) && !c.disabled) c.checked = true;
    });
    if (focusedId) {
      const again = document.getElementById(focusedId);
      if (again) again.focus();
    }
  }
  function connect(el) {
    const source = new EventSource(el.dataset.live);
    source.addEventListener("update", function (event) {
      const message = JSON.parse(event.data);
      const target = document.getElementById(message.target);
      if (!target) return;
      keepSelection(target, function () {
        target.innerHTML = message.html;
      });
      target.dataset.updated = String(Date.now());
    });
    source.addEventListener("open", function () {
      el.classList.remove("stale");
    });
    source.addEventListener("error", function () {
      el.classList.add("stale"); // EventSource reconnects by itself
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(connect);
  });
})();
