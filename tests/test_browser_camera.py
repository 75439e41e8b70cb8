"""The browser's camera: the kernel side on real frames, and the whole thing in a real browser (JupyterLab on
loopback, headless Chromium whose fake camera plays a real face video, notebook 04's live cell)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_helpers import browser_camera, inference, sources, stream
from fer_helpers.config import CANONICAL_CLASSES, PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = PROJECT_ROOT / "artifacts" / "browser_camera.png"


@pytest.fixture(scope="module")
def recogniser():
    return inference.Recogniser()


@pytest.fixture(scope="module")
def person_frames(videos_dir):
    """The first 12 frames of the real single-person clip, BGR."""
    return [frame for _, frame in zip(range(12), sources.VideoSource(videos_dir / "single_face.mp4"))]


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def test_browser_frames_come_back_annotated_and_are_recorded(recogniser, person_frames, tmp_path):
    camera = browser_camera.BrowserCamera(recogniser)
    for frame in person_frames:
        encoded, faces, problem = camera.analyse_jpeg(jpeg(frame))
        annotated = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
        assert annotated.shape == frame.shape and problem == ""
    assert len(faces) == 1 and faces[0].split()[0] in recogniser.classes
    assert (np.abs(annotated.astype(int) - frame.astype(int)).sum(axis=2) > 0).any()  # the box and label were drawn
    assert camera.frames_shown == len(person_frames) and camera.fps() > 0
    table = camera.timeline()
    assert table["frame"].nunique() == len(person_frames) and table["face_id"].nunique() == 1
    files = camera.save(tmp_path / "seen")
    assert pd.read_csv(files["csv"])["frame"].nunique() == len(person_frames)
    assert files["timeline"].read_bytes()[:4] == b"\x89PNG" and json.loads(files["json"].read_text())


def test_odd_and_broken_browser_frames_never_crash(recogniser, person_frames):
    camera = browser_camera.BrowserCamera(recogniser)
    odd = [cv2.cvtColor(person_frames[0], cv2.COLOR_BGR2GRAY), np.zeros((1, 1, 3), np.uint8),
           cv2.resize(person_frames[0], (33, 17)), cv2.resize(person_frames[0], (1917, 1079))]
    for frame in odd:
        encoded, _, problem = camera.analyse_jpeg(jpeg(frame))
        assert encoded is not None and problem == ""
    for broken in (b"", b"not a jpeg", jpeg(person_frames[0])[:40]):
        encoded, faces, problem = camera.analyse_jpeg(broken)
        assert encoded is None and faces == [] and "could not be decoded" in problem
    assert camera.frames_skipped == 3 and camera.frames_shown == len(odd)


def test_front_end_messages_show_in_the_notebook(recogniser):
    camera = browser_camera.BrowserCamera(recogniser)
    assert "front end" in camera.notice.value  # shown until the front end says it is there
    camera._on_message(camera, {"type": "ready"}, [])
    assert camera.front_end_ready and camera.notice.value == ""
    camera._on_message(camera, {"type": "problem", "message": "The browser denied access to the camera."}, [])
    assert "denied access" in camera.notice.value and camera.problems == ["The browser denied access to the camera."]


def test_live_source_is_the_browser_inside_jupyter_and_the_video_elsewhere(monkeypatch):
    monkeypatch.delenv(stream.JUPYTER_SERVER_ENV, raising=False)
    assert stream.choose_live_source("auto") == "video"
    monkeypatch.setenv(stream.JUPYTER_SERVER_ENV, "notebooks/04_inference.ipynb")
    assert stream.choose_live_source("auto") == "browser" and stream.choose_live_source("server") == "server"
    with pytest.raises(ValueError, match="Unknown live source"):
        stream.choose_live_source("phone")


def write_y4m(video: Path, path: Path) -> Path:
    """A real video as the raw YUV 4:2:0 file Chromium's fake camera plays in a loop."""
    frames = list(sources.VideoSource(video))
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory):
    """JupyterLab on a free loopback port with a token, started once for this file's browser tests: its root
    folder and address."""
    root = tmp_path_factory.mktemp("jupyter")
    port, token = free_port(), "fer-test-" + os.urandom(8).hex()
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--ServerApp.open_browser=False", f"--LabApp.workspaces_dir={root / 'workspaces'}",  # not the user's own
         "--allow-root"],  # CI runs as root
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("JupyterLab did not start on loopback within 60 s")
                time.sleep(0.5)
        yield root, f"http://127.0.0.1:{port}", token
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
        server.wait(timeout=30)


@pytest.fixture()
def jupyterlab(jupyter_server, videos_dir):
    """The address of a fresh copy of notebook 04 that analyses few frames, in its own kernel; the kernel is
    shut down afterwards."""
    root, address, token = jupyter_server
    notebook = json.loads((PROJECT_ROOT / "notebooks" / "04_inference.ipynb").read_text())
    for cell in notebook["cells"]:
        if "parameters" in cell["metadata"].get("tags", []):
            cell["source"] += [f"\nmax_frames = 10\nvideo_path = {str((videos_dir / 'single_face.mp4').resolve())!r}"]
    name = f"notebooks/04_inference_{len(list(root.glob('notebooks/*.ipynb')))}.ipynb"  # beside ../artifacts, as shipped
    (root / "notebooks").mkdir(exist_ok=True)
    (root / name).write_text(json.dumps(notebook))
    yield f"{address}/lab/workspaces/{Path(name).stem}/tree/{name}?token={token}"  # a workspace of its own: no other tab
    sessions = json.load(urllib.request.urlopen(f"{address}/api/sessions?token={token}", timeout=10))
    for session in sessions:
        if session["path"] == name:
            urllib.request.urlopen(urllib.request.Request(f"{address}/api/kernels/{session['kernel']['id']}?token={token}",
                                                          method="DELETE"), timeout=30)


BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package chromium; "
                                    "setup.sh installs it): the real-browser test cannot run here")


def click_start_in_live_cell(page, url: str) -> None:
    """Open notebook 04 in JupyterLab, run every cell, and press the browser camera's Start."""
    page.goto(url)
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext", timeout=90_000)
    page.evaluate("async () => { const notebook = window.jupyterapp.shell.currentWidget;"
                  " await notebook.context.ready; await notebook.sessionContext.ready; }")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    start = page.locator(".fer-camera-start")
    try:
        start.wait_for(state="attached", timeout=150_000)  # kernel start, TensorFlow import, model load
    except Exception:
        page.screenshot(path=str(SCREENSHOT.with_name("browser_camera_failure.png")), full_page=True)
        outputs = page.evaluate("Array.from(document.querySelectorAll('.jp-OutputArea-output'), e => e.innerText)")
        pytest.fail(f"no Start button; notebook outputs: {outputs}")
    start.scroll_into_view_if_needed()  # JupyterLab renders cells out of view lazily
    start.click()


@needs_chromium
def test_notebook_live_cell_in_a_real_browser_with_a_fake_camera(jupyterlab, videos_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    camera_file = write_y4m(videos_dir / "single_face.mp4", tmp_path / "camera.y4m")
    flags = [*BROWSER_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-video-capture={camera_file}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            click_start_in_live_cell(page, jupyterlab)
            readout = page.locator(".fer-camera-readout")
            page.wait_for_function(
                "document.querySelector('.fer-camera-readout').textContent.includes('1 face(s): ')", timeout=60_000)
            time.sleep(2)  # let a few more frames go round
            text = readout.text_content()
            # Each frame replaces the image's src, so wait until one has loaded; from there to drawImage nothing else runs.
            green = page.evaluate("""async () => {
                const image = document.querySelector('.fer-camera-image');
                for (const start = Date.now(); !(image.complete && image.naturalWidth > 0);) {
                    if (Date.now() - start > 10000) throw new Error('no frame shown for 10 s');
                    await new Promise(resolve => setTimeout(resolve, 20));
                }
                const canvas = document.createElement('canvas');
                canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
                const context = canvas.getContext('2d'); context.drawImage(image, 0, 0);
                const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
                let count = 0;
                for (let i = 0; i < pixels.length; i += 4)
                    if (pixels[i] < 60 && pixels[i + 1] > 200 && pixels[i + 2] < 60) count++;
                return {count, width: canvas.width, height: canvas.height};
            }""")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.locator(".fer-camera").screenshot(path=str(SCREENSHOT))
            page.locator(".fer-camera-stop").click()
            status = page.locator(".fer-camera-status").text_content()
            page.locator(".fer-camera-start").click()  # again, then the camera goes away mid-stream
            page.wait_for_function("document.querySelector('.fer-camera-status').textContent.startsWith('Streaming')")
            page.evaluate("document.querySelector('.fer-camera-video').srcObject.getVideoTracks()[0]"
                          ".dispatchEvent(new Event('ended'))")
            page.wait_for_selector(".fer-camera-status[data-problem='yes']", state="attached", timeout=10_000)
            ended = page.locator(".fer-camera-status").text_content()
        finally:
            browser.close()
    label = text.split("1 face(s): ")[1].split()[0]
    fps = float(text.split(" frames/s")[0])
    behind_ms = int(text.split(", ")[-1].split(" ms")[0])
    assert label in CANONICAL_CLASSES and fps > 0, text
    assert behind_ms < 500, f"frames come back {behind_ms} ms behind: {text}"
    assert (green["width"], green["height"]) == (640, 360) and green["count"] > 200, green  # the face is boxed
    assert status == "Stopped."
    assert ended.startswith("The camera stopped sending frames"), ended


@needs_chromium
@pytest.mark.parametrize("flags, message", [
    (["--use-fake-device-for-media-stream", "--deny-permission-prompts"], "The browser denied access to the camera"),
    ([], "No camera was found on this computer"),
], ids=["denied", "no-camera"])
def test_a_denied_or_missing_camera_is_a_clear_message_in_the_page_and_the_notebook(jupyterlab, flags, message):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*BROWSER_FLAGS, *flags])
        try:
            page = browser.new_page()
            click_start_in_live_cell(page, jupyterlab)
            page.wait_for_selector(".fer-camera-status[data-problem='yes']", state="attached", timeout=30_000)
            status = page.locator(".fer-camera-status").text_content()
            notice = page.locator(".jp-OutputArea-output .widget-html", has_text=message)  # written by the kernel
            notice.first.wait_for(state="attached", timeout=30_000)
            start_enabled = page.locator(".fer-camera-start").is_enabled()
        finally:
            browser.close()
    assert status.startswith(message), status
    assert start_enabled  # the user can fix it and press Start again
