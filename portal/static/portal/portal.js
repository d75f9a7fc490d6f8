/* The portal's only script. Pages stay usable without it; the server checks everything anyway.
   It lives in a file, not inline, so the Content-Security-Policy can forbid inline script. */
(function () {
  "use strict";

  /* A <select data-autosubmit> submits its form when changed (the active firm switcher). */
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });

  /* A <form data-confirm="..."> asks before it is sent. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  /* A <button data-print> prints the page. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) {
      window.print();
    }
  });
})();

/* Questions with show_if appear only when the answer they depend on matches. The server decides
   anyway: answers to questions that end up hidden are dropped when the step is saved. */
(function () {
  var form = document.getElementById("questionnaire-form");
  if (!form) { return; }
  var TRUE = ["true", "yes", "1", "on"], FALSE = ["false", "no", "0", "off"];
  function answers(code) {
    var out = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name !== code) { return; }
      if (el.type === "radio" || el.type === "checkbox") {
        if (el.checked) { out.push(el.value); }
      } else if (el.value) {
        out.push(el.value);
      }
    });
    return out;
  }
  function update() {
    form.querySelectorAll("[data-show-if]").forEach(function (box) {
      var got = answers(box.getAttribute("data-show-if"));
      var want = box.getAttribute("data-show-if-equals");
      var shown;
      if (box.getAttribute("data-show-if-boolean") === "true") {
        var text = (got[0] || "").toLowerCase();
        var value = TRUE.indexOf(text) >= 0 ? "true" : (FALSE.indexOf(text) >= 0 ? "false" : "");
        shown = value !== "" && value === want;
      } else {
        shown = got.indexOf(want) >= 0;
      }
      box.classList.toggle("d-none", !shown);
    });
  }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
})();

/* Records when each exclusion is ticked, and keeps the button disabled until the minimum reading
   time has passed. The server measures the reading time itself and checks every tick anyway. */
(function () {
  var form = document.getElementById("notice-form");
  if (!form) { return; }
  form.querySelectorAll(".exclusion-tick").forEach(function (box) {
    box.addEventListener("change", function () {
      var key = box.getAttribute("data-key");
      form.querySelectorAll(".exclusion-tick-time").forEach(function (time) {
        if (time.getAttribute("data-key") === key) {
          time.value = box.checked ? new Date().toISOString() : "";
        }
      });
    });
  });
  var button = document.getElementById("notice-submit");
  var counter = document.getElementById("notice-countdown");
  var announce = document.getElementById("notice-ready-announcement");
  var end = Date.now() + (parseInt(counter.getAttribute("data-remaining"), 10) || 0) * 1000;
  var timer = null;
  function show() {
    var left = Math.ceil((end - Date.now()) / 1000);
    if (left > 0) {
      button.disabled = true;
      counter.textContent = counter.getAttribute("data-waiting").replace("__S__", left);
      return;
    }
    button.disabled = false;
    counter.textContent = counter.getAttribute("data-ready");
    announce.textContent = counter.getAttribute("data-ready");
    if (timer) { clearInterval(timer); }
  }
  show();
  if (button.disabled) { timer = setInterval(show, 500); }
})();
