// Practice page: record in the browser (or pick a file), send it to the API, follow the analysis.
// Chromium's MediaRecorder writes WebM/Opus, which the server's decoder (libsndfile) does not read, so a
// recording is decoded here with the Web Audio API and sent as a 16-bit mono WAV.
(function () {
  "use strict";

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function wavBlob(samples, rate) {
    var buffer = new ArrayBuffer(44 + samples.length * 2);
    var view = new DataView(buffer);
    function text(offset, value) { for (var i = 0; i < value.length; i++) view.setUint8(offset + i, value.charCodeAt(i)); }
    text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, samples.length * 2, true);
    for (var i = 0; i < samples.length; i++) {
      var s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([view], { type: "audio/wav" });
  }

  function mono(audioBuffer) {
    var out = new Float32Array(audioBuffer.length);
    for (var c = 0; c < audioBuffer.numberOfChannels; c++) {
      var data = audioBuffer.getChannelData(c);
      for (var i = 0; i < data.length; i++) out[i] += data[i] / audioBuffer.numberOfChannels;
    }
    return out;
  }

  function setStatus(text) {
    var status = document.getElementById("status");
    if (status) status.textContent = text;
  }

  var take = document.getElementById("take");
  if (take) {
    var recorded = null;
    var record = document.getElementById("record");
    var stop = document.getElementById("stop");
    var progress = document.getElementById("progress");
    if (navigator.mediaDevices && window.MediaRecorder) {
      record.hidden = false; stop.hidden = false;
      var recorder = null, chunks = [];
      record.addEventListener("click", function () {
        navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
          chunks = [];
          recorder = new MediaRecorder(stream);
          recorder.ondataavailable = function (event) { chunks.push(event.data); };
          recorder.onstop = function () {
            stream.getTracks().forEach(function (track) { track.stop(); });
            new Blob(chunks).arrayBuffer().then(function (bytes) {
              var context = new (window.AudioContext || window.webkitAudioContext)();
              return context.decodeAudioData(bytes).then(function (decoded) {
                recorded = wavBlob(mono(decoded), decoded.sampleRate);
                setStatus("Recorded " + decoded.duration.toFixed(1) + " s. Press “Get feedback” to send it.");
              });
            }).catch(function () { setStatus("The recording could not be read; try again or upload a file."); });
          };
          recorder.start();
          record.disabled = true; stop.disabled = false;
          setStatus("Recording… play the piece from its first bar, then press Stop.");
        }).catch(function () {
          setStatus("The microphone is not available here: allow it in the browser, or upload a recording instead.");
        });
      });
      stop.addEventListener("click", function () {
        if (recorder && recorder.state !== "inactive") recorder.stop();
        record.disabled = false; stop.disabled = true;
      });
    }
    document.getElementById("upload-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("recording");
      var file = input.files && input.files[0] ? input.files[0] : null;
      var body = new FormData();
      body.append("work", take.dataset.work);
      if (file) body.append("file", file, file.name);
      else if (recorded) body.append("file", recorded, "recording.wav");
      else { setStatus("Record yourself or choose a file first."); return; }
      setStatus("Checking your recording…");
      progress.hidden = false; progress.removeAttribute("value");
      fetch(take.dataset.api, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } })
        .then(function (response) { return response.json().then(function (json) { return [response.status, json]; }); })
        .then(function (result) {
          if (result[0] === 201 || result[0] === 202) {
            window.location.href = take.dataset.sessionUrl + result[1].id + "/";
          } else {
            progress.hidden = true;
            setStatus(result[1].error ? result[1].error.message : "Something went wrong; try again.");
          }
        })
        .catch(function () { progress.hidden = true; setStatus("The server could not be reached; try again."); });
    });
  }

  var poll = document.querySelector("[data-poll]");
  if (poll) {
    var bar = document.getElementById("progress");
    var timer = setInterval(function () {
      fetch(poll.dataset.poll, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (session) {
        if (bar) bar.value = session.progress;
        poll.textContent = "Analysing your recording: " + (session.stage || "queued") + "…";
        if (session.status === "succeeded" || session.status === "failed") { clearInterval(timer); window.location.reload(); }
      });
    }, 1000);
  }
})();
