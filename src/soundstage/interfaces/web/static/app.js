// soundstage web: live job status over Server-Sent Events, the before/after slider, and verify's progress.
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

  // the wipe: the "after" picture (an <img> or a <video>) clipped to the slider's position over the
  // "before" one; two videos are kept in step (play, pause, seek and rate follow the before player)
  function setupCompare(box) {
    var range = box.querySelector(".compare-range");
    var wrap = box.querySelector(".compare-after-wrap");
    var before = box.querySelector(".compare-before");
    var after = box.querySelector(".compare-after");
    if (!range || !wrap) return;
    function sizeAfter() {
      if (after && before) {
        after.style.width = before.clientWidth + "px";
        after.style.height = before.clientHeight + "px";
      }
    }
    function update() { wrap.style.width = range.value + "%"; }
    range.addEventListener("input", update);
    window.addEventListener("resize", sizeAfter);
    if (before) {
      before.addEventListener("load", sizeAfter);
      before.addEventListener("loadedmetadata", sizeAfter);
    }
    if (before && after && before.tagName === "VIDEO" && after.tagName === "VIDEO") {
      box.classList.add("has-video");
      after.controls = false;
      before.controls = false;  // the wipe covers them: one button plays both, the slider wipes
      var button = document.createElement("button");
      button.type = "button";
      button.className = "compare-play";
      button.textContent = "Play both";
      button.addEventListener("click", function () {
        if (before.paused) { before.play(); } else { before.pause(); }
      });
      before.addEventListener("play", function () { button.textContent = "Pause"; });
      before.addEventListener("pause", function () { button.textContent = "Play both"; });
      before.addEventListener("ended", function () { button.textContent = "Play both"; });
      box.appendChild(button);
      after.muted = true;
      var sync = function () {
        if (Math.abs(after.currentTime - before.currentTime) > 0.05) after.currentTime = before.currentTime;
      };
      before.addEventListener("play", function () { sync(); after.play(); });
      before.addEventListener("pause", function () { after.pause(); sync(); });
      before.addEventListener("seeked", sync);
      before.addEventListener("ratechange", function () { after.playbackRate = before.playbackRate; });
      before.addEventListener("timeupdate", sync);
    }
    sizeAfter();
    update();
  }

  // a preview asked for on the approval card is rendered by a queue worker: poll its request until
  // it is done (reload to show it) or failed (show the one-line error); give up after ten minutes
  function pollPreview(el) {
    var url = el.getAttribute("data-preview-poll");
    var tries = 0;
    function once() {
      tries += 1;
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
        .then(function (data) {
          if (data.status === "done") {
            window.location.reload();
          } else if (data.status === "failed" || data.status === "stale") {
            el.className = "preview-error";
            el.textContent = data.status === "stale" ? "the job changed since the preview was asked for"
              : "preview not made: " + ((data.request && data.request.error) || "unknown error");
          } else if (tries < 600) {
            el.setAttribute("data-preview-status", data.status);
            setTimeout(once, 1000);
          }
        })
        .catch(function (err) {
          el.className = "preview-error";
          el.textContent = "could not follow the preview: " + err.message;
        });
    }
    setTimeout(once, 500);
  }

  // verify: follow the reading of a long clip or sound file (up to ~30 s) instead of waiting blind.
  // The form is posted as it would be, asking for one JSON object a line back: progress while the
  // file is read past its head, then the result as the page shows it (rendered by the server, from
  // the same template) or the error's one line. Without this script the form posts normally.
  function setupVerify(form) {
    if (!window.fetch || !window.TextDecoder || !window.FormData) return;
    var box = document.getElementById("verify-progress");
    var stage = document.getElementById("verify-stage");
    var bar = document.getElementById("verify-bar");
    var out = document.getElementById("verify-result");
    var button = form.querySelector("button[type=submit]");
    function handle(message) {
      if (message.progress) {
        bar.max = message.progress[1];
        bar.value = message.progress[0];
        stage.textContent = "Reading the watermark over the whole file: " + message.progress[0] + " of " +
          message.progress[1] + " parts";
      }
      if (message.html !== undefined) {
        box.hidden = true;
        out.innerHTML = message.html;  // rendered and escaped by the server's template
      }
      if (message.error) {
        bar.hidden = true;
        stage.textContent = "Not verified: " + message.error;
      }
    }
    function oneLine(text) {
      try { return JSON.parse(text).error.message; } catch (e) { return text.slice(0, 200); }
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      box.hidden = false;
      bar.hidden = false;
      bar.removeAttribute("value");
      stage.textContent = "Uploading and reading the credentials…";
      out.textContent = "";
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"Accept": "application/x-ndjson"}})
        .then(function (response) {
          var type = response.headers.get("content-type") || "";
          if (response.ok && type.indexOf("text/html") === 0) {  // the session ended: the login page
            window.location.href = response.url;
            return;
          }
          if (!response.ok || !response.body) {
            return response.text().then(function (text) { throw new Error(oneLine(text)); });
          }
          var reader = response.body.getReader(), decoder = new TextDecoder(), buffered = "";
          function pump() {
            return reader.read().then(function (chunk) {
              if (chunk.done) return;
              buffered += decoder.decode(chunk.value, {stream: true});
              var lines = buffered.split("\n");
              buffered = lines.pop();
              lines.forEach(function (line) { if (line) handle(JSON.parse(line)); });
              return pump();
            });
          }
          return pump();
        })
        .catch(function (err) {
          bar.hidden = true;
          stage.textContent = "Not verified: " + err.message;
        })
        .then(function () { button.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-verify-stream]").forEach(setupVerify);
    document.querySelectorAll("[data-job-events]").forEach(followJob);
    document.querySelectorAll("[data-preview-poll]").forEach(pollPreview);
    document.querySelectorAll("[data-compare]").forEach(setupCompare);
    // a thumbnail that cannot be drawn (an unreadable PDF, say) becomes a plain label
    document.querySelectorAll(".asset-thumb img").forEach(function (img) {
      function none() {
        var box = document.createElement("div");
        box.className = "nothumb";
        box.textContent = "no picture";
        img.replaceWith(box);
      }
      if (img.complete && img.naturalWidth === 0) { none(); } else { img.addEventListener("error", none); }
    });
  });
})();
