/* The payment result page follows its payment's state by itself: it asks the small status JSON every few
   seconds and reloads the page once the state is final (paid, failed, expired…), so the page shows what the
   server stored. Optional: without JS the "Tải lại" link does the same. ES5 on purpose (old Android browsers). */
(function () {
  "use strict";
  var box = document.querySelector("[data-poll-url]");
  if (!box || !window.XMLHttpRequest) { return; }
  var url = box.getAttribute("data-poll-url");
  var delay = 3000;
  var started = Date.now();
  var LIMIT = 30 * 60 * 1000; // a QR left open for half an hour stops asking

  function ask() {
    if (Date.now() - started > LIMIT) { return; }
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url, true);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      if (xhr.status === 200) {
        var state = null;
        try { state = JSON.parse(xhr.responseText); } catch (e) { state = null; }
        if (state && !state.waiting) { window.location.reload(); return; }
        delay = 3000;
      } else if (xhr.status === 404 || xhr.status === 403) {
        return; // not this account's payment any more (logged out): stop
      } else {
        delay = Math.min(delay * 2, 30000); // the server is busy: ask less often
      }
      window.setTimeout(ask, delay);
    };
    xhr.send();
  }
  window.setTimeout(ask, delay);
}());
