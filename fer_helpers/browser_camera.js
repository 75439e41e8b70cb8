// Front end of fer_helpers.browser_camera.BrowserCamera (an anywidget module).
// Takes frames from the browser's camera, sends each to the kernel as JPEG and shows the annotated frame
// that comes back. One frame is in flight at a time: while the kernel works, newer camera frames are
// dropped, never queued, so what is shown stays current however slow the analysis is.

const CAMERA_ERRORS = {
  NotAllowedError: "The browser denied access to the camera. Allow it for this page (the camera icon in the address bar), then press Start again.",
  NotFoundError: "No camera was found on this computer.",
  NotReadableError: "The camera is in use by another program, or the system refused it.",
  OverconstrainedError: "The camera cannot give the picture size asked for.",
  SecurityError: "This page may not use a camera (it needs https or localhost).",
};
const WATCHDOG_MS = 2000; // a frame unanswered this long is given up, and the next one sent

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text) node.textContent = text;
  return node;
}

function render({ model, el }) {
  const start = element("button", "fer-camera-start", "Start");
  const stop = element("button", "fer-camera-stop", "Stop");
  const readout = element("span", "fer-camera-readout", "stopped");
  const status = element("div", "fer-camera-status");
  const image = element("img", "fer-camera-image");
  const video = element("video", "fer-camera-video");
  const canvas = document.createElement("canvas");
  const bar = element("div", "fer-camera-bar");
  const root = element("div", "fer-camera");
  image.alt = "annotated camera frames appear here";
  video.muted = true;
  video.playsInline = true;
  stop.disabled = true;
  bar.append(start, stop, readout);
  root.append(bar, status, image, video);
  el.append(root);

  let stream = null;
  let running = false;
  let inFlightSince = 0;
  let shownUrl = null;

  function show(text, isProblem) {
    status.textContent = text;
    status.dataset.problem = isProblem ? "yes" : "no";
  }

  function report(text) {
    show(text, true);
    model.send({ type: "problem", message: text });
  }

  function sendFrame() {
    const now = performance.now();
    if (!running || (inFlightSince && now - inFlightSince < WATCHDOG_MS)) return;
    if (video.readyState < 2 || !video.videoWidth) return;
    const scale = Math.min(1, model.get("max_width") / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    inFlightSince = now;
    canvas.toBlob(async (blob) => {
      if (!blob || !running) {
        inFlightSince = 0;
        return;
      }
      model.send({ type: "frame", sent: now }, undefined, [await blob.arrayBuffer()]);
    }, "image/jpeg", model.get("jpeg_quality") / 100);
  }

  function stopCamera() {
    running = false;
    inFlightSince = 0;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    start.disabled = false;
    stop.disabled = true;
  }

  model.on("msg:custom", (message, buffers) => {
    if (message.type !== "annotated") return;
    inFlightSince = 0;
    if (buffers && buffers.length) {
      if (shownUrl) URL.revokeObjectURL(shownUrl);
      shownUrl = URL.createObjectURL(new Blob([buffers[0]], { type: "image/jpeg" }));
      image.src = shownUrl;
    }
    const faces = message.faces.length ? `: ${message.faces.join(", ")}` : "";
    const behind = Math.round(performance.now() - message.sent);
    readout.textContent = `${message.fps.toFixed(1)} frames/s analysed, ${message.faces.length} face(s)${faces}, ${behind} ms behind`;
    if (message.problem) show(message.problem, true);
    sendFrame();
  });

  start.addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      report("This browser offers no camera to this page (a camera needs https or localhost).");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      report(CAMERA_ERRORS[error.name] || `The camera could not start (${error.name}: ${error.message}).`);
      return;
    }
    stream.getVideoTracks()[0].addEventListener("ended", () => {
      stopCamera();
      report("The camera stopped sending frames (unplugged, or taken by another program). Press Start to try again.");
    });
    video.srcObject = stream;
    await video.play();
    running = true;
    start.disabled = true;
    stop.disabled = false;
    show("Streaming the browser's camera.", false);
    model.send({ type: "started" });
    video.requestVideoFrameCallback ? video.requestVideoFrameCallback(() => sendFrame()) : sendFrame();
  });

  stop.addEventListener("click", () => {
    stopCamera();
    show("Stopped.", false);
    model.send({ type: "stopped" });
  });

  const watchdog = setInterval(sendFrame, WATCHDOG_MS / 4);
  model.send({ type: "ready" });
  return () => {
    clearInterval(watchdog);
    stopCamera();
    if (shownUrl) URL.revokeObjectURL(shownUrl);
  };
}

export default { render };
