// The class view, live: while a batch runs, each new result refreshes the page's content in
// place (fetched from this site, no navigation), keeping the filters of its address. Only
// the newest fetch's answer is shown: an older one arriving late never replaces it.
"use strict";
(function () {
  if (!window.EventSource || !window.fetch) { return; }
  var source = new EventSource("/batches/events");
  var seen = null;
  var asked = 0;
  source.onmessage = function (event) {
    var progress = JSON.parse(event.data).map(function (b) { return b.id + ":" + b.done + ":" + b.state; }).join(",");
    if (seen !== null && progress !== seen) {
      var mine = ++asked;
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null || mine !== asked) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.getElementById("class-view").replaceWith(fresh.getElementById("class-view"));
        });
    }
    seen = progress;
  };
})();
