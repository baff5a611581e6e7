// The slider's number follows the thumb at once; the server recomputes everything else.
// The page also times each update, from the user's move to the new results in place, and shows
// it beside the server's own time (the benchmark reads the same number from data-page-seconds).
var movedAt = null;

document.addEventListener("input", function (event) {
  var target = event.target;
  if (target.matches && target.matches("input[type=range]")) {
    var output = target.parentElement.querySelector("output");
    if (output) output.textContent = Number(target.value).toFixed(1) + "%";
  }
  if (target.form && target.form.id === "choices" && movedAt === null) movedAt = performance.now();
});

document.addEventListener("change", function (event) {
  if (event.target.form && event.target.form.id === "choices" && movedAt === null) movedAt = performance.now();
});

document.addEventListener("htmx:afterSettle", function (event) {
  if (event.detail.target && event.detail.target.id === "results" && movedAt !== null) {
    var seconds = (performance.now() - movedAt) / 1000;
    movedAt = null;
    document.body.dataset.pageSeconds = seconds.toFixed(4);
    var shown = document.getElementById("page-seconds");
    if (shown) shown.textContent = "; on this page " + seconds.toFixed(2) + " s";
  }
});
