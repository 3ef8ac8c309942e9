// soundstage web: live job status over Server-Sent Events, and the before/after slider.
// Written for this app; no libraries.
(function () {
  "use strict";

  function followJob(el) {
    var id = el.getAttribute("data-job-events");
    if (!id || !window.EventSource) return;
    var source = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/events");
    source.addEventListener("status", function (event) {
      var data = JSON.parse(event.data);
      el.textContent = data.status;
      el.className = "status status-" + data.status;
      // a worker finished the job while the page was open: show its outputs
      if (data.status === "done" && el.getAttribute("data-initial") !== "done") {
        source.close();
        window.location.reload();
      }
    });
    source.addEventListener("progress", function (event) {
      var data = JSON.parse(event.data);
      var shown = document.getElementById("job-progress");
      if (shown) shown.textContent = data.frames_done + "/" + data.frames_total + " frames";
    });
    source.addEventListener("end", function () { source.close(); });
    source.onerror = function () { source.close(); };
  }

  function setupCompare(box) {
    var range = box.querySelector(".compare-range");
    var wrap = box.querySelector(".compare-after-wrap");
    var before = box.querySelector(".compare-before");
    var after = box.querySelector(".compare-after");
    if (!range || !wrap) return;
    function sizeAfter() { if (after && before) after.style.width = before.clientWidth + "px"; }
    function update() { wrap.style.width = range.value + "%"; }
    range.addEventListener("input", update);
    window.addEventListener("resize", sizeAfter);
    if (before) before.addEventListener("load", sizeAfter);
    sizeAfter();
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-job-events]").forEach(followJob);
    document.querySelectorAll("[data-compare]").forEach(setupCompare);
  });
})();
