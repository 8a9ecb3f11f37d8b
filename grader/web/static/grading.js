// Keyboard grading (the grading page): 1-9 pick a level and save, n / p (or the arrow keys)
// move to the next / previous submission, c writes a comment, Escape leaves a text field.
"use strict";
document.addEventListener("keydown", function (event) {
  var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
  if (typing) {
    if (event.key === "Escape") { event.target.blur(); }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) { return; }
  var level = document.querySelector('button[data-key="' + event.key + '"]');
  if (level) { event.preventDefault(); level.click(); return; }
  var links = { n: "next", ArrowRight: "next", p: "previous", ArrowLeft: "previous" };
  if (links[event.key]) {
    var link = document.getElementById(links[event.key]);
    if (link) { event.preventDefault(); link.click(); }
    return;
  }
  if (event.key === "c") {
    event.preventDefault();
    document.getElementById("comment").focus();
  }
});
