// Progressive enhancement for the credentials page: a "Copy" button next to
// each read-only field. Without JavaScript the fields are still selectable
// and the buttons stay hidden. Served from /static (CSP script-src 'self').
"use strict";
document.querySelectorAll("button.copybtn").forEach(function (btn) {
  var input = document.getElementById(btn.getAttribute("data-copy"));
  if (!input) return;
  var label = btn.textContent;
  btn.hidden = false;
  btn.addEventListener("click", function () {
    input.focus();
    input.select();
    var done = function () {
      btn.textContent = btn.getAttribute("data-done") || label;
      setTimeout(function () { btn.textContent = label; }, 2000);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else {
      try { if (document.execCommand("copy")) done(); } catch (e) {}
    }
  });
});
document.querySelectorAll("input.copy").forEach(function (input) {
  input.addEventListener("focus", function () { input.select(); });
});
