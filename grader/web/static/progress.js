// Live batch progress (the batches page): each event is the list of recent batches; a row
// is updated in place, and a batch the page does not show yet reloads it.
"use strict";
(function () {
  var table = document.getElementById("batches");
  if (!table || !window.EventSource) { return; }
  var source = new EventSource(table.getAttribute("data-events"));
  source.onmessage = function (event) {
    JSON.parse(event.data).forEach(function (batch) {
      var row = document.getElementById("batch-" + batch.id);
      if (!row) { window.location.reload(); return; }
      row.querySelector(".done").textContent = batch.done + " of " + batch.total;
      row.querySelector(".bar > span").style.width = (100 * batch.done / Math.max(batch.total, 1)) + "%";
      row.querySelector(".short").textContent = batch.short;
      row.querySelector(".errors").textContent = batch.errors;
      row.querySelector(".state").textContent = batch.state + (batch.cancel && batch.state === "running" ? " (cancelling)" : "");
      row.querySelector(".eta").textContent = batch.eta_s === null ? "–" : Math.round(batch.eta_s) + " s";
    });
  };
})();
