"""Nothing a user gives loses data or ends in a traceback: one test per problem found by trying the tool as a
new user would, on real FER2013 faces and real videos copied into tmp_path. Every CLI run goes through
conftest.run_cli, which checks that no input file changed."""

import json
import os
import shutil
import subprocess
import sys

import cv2
import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import read_gray, real_faces, run_cli
from fer_helpers import config, data, detection, inference, pipeline, saving, sources, synthetic
from fer_helpers.__main__ import DISPLAY_VARIABLES
from fer_helpers.config import IMAGE_SUFFIXES, PROJECT_ROOT


@pytest.fixture(scope="module")
def model_args():
    """The model the CLI runs in these tests, which are about their input: the first network of the shipped
    ensemble, on the Keras runtime (the whole ensemble and its TFLite copy have their own tests)."""
    return ["--model", str(config.default_model_path()), "--runtime", "keras", "--networks", "1"]


@pytest.fixture()
def clip(videos_dir, tmp_path):
    """A copy of the real single-face clip in its own folder."""
    folder = tmp_path / "clips"
    folder.mkdir()
    return copy_file(videos_dir / "single_face.mp4", folder / "clip.mp4")


def copy_file(source, target):
    """Copy a file and return the copy's path."""
    shutil.copy(source, target)
    return target


def face_photo(fer_dir, label="happy", index=0) -> np.ndarray:
    """A real FER2013 face upscaled on a 640x480 grey canvas, as a photo Haar finds the face in."""
    canvas = np.full((480, 640), synthetic.BACKGROUND, np.uint8)
    tile = synthetic.face_tile(read_gray(real_faces(fer_dir, "test", label, index + 1)[index]))
    canvas[100:100 + len(tile), 200:200 + len(tile)] = tile
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)


# Data loss

def test_video_output_into_its_own_folder_keeps_the_input(clip, model_args, capsys):
    frames_before = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert run_cli(["predict", str(clip), "--output", str(clip.parent), "--quiet", *model_args], clip) == 0
    assert int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT)) == frames_before == 72
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"]["video"] == str(clip.parent / "clip.annotated.mp4")
    assert int(cv2.VideoCapture(summary["files"]["video"]).get(cv2.CAP_PROP_FRAME_COUNT)) == 72


def test_output_names_keep_the_whole_input_name(clip, fer_dir, tmp_path, model_args):
    part1, part2 = copy_file(clip, clip.with_name("day1.part1.mp4")), copy_file(clip, clip.with_name("day1.part2.mp4"))
    out = tmp_path / "out"
    for part in (part1, part2):
        assert run_cli(["predict", str(part), "--output", str(out), "--max-frames", "5", "--quiet", *model_args], part) == 0
    assert {p.name for p in out.iterdir()} >= {"day1.part1.annotated.mp4", "day1.part2.annotated.mp4",
                                                "day1.part1.faces.csv", "day1.part2.faces.csv"}
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "my.photo.jpg"), face_photo(fer_dir))
    (photos / "my.csv").write_text("the user's own table\n")
    assert run_cli(["predict", str(photos / "my.photo.jpg"), "--output", str(photos), *model_args], photos) == 0
    assert (photos / "my.csv").read_text() == "the user's own table\n"
    assert (photos / "my.photo.faces.csv").exists() and (photos / "my.photo.annotated.png").exists()


def test_same_stem_images_give_one_result_each(fer_dir, tmp_path, model_args):
    folder = tmp_path / "same"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), face_photo(fer_dir, "happy"))
    cv2.imwrite(str(folder / "a.png"), face_photo(fer_dir, "surprise"))
    assert run_cli(["predict", str(folder), "--output", str(tmp_path / "out"), *model_args], folder) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a.jpg.annotated.png", "a.png.annotated.png"]
    assert pd.read_csv(tmp_path / "out" / "same.faces.csv")["file"].nunique() == 2
    for day in ("monday", "tuesday"):  # the same name in two subfolders: each keeps its own annotated copy
        (folder / day).mkdir()
        cv2.imwrite(str(folder / day / "a.jpg"), face_photo(fer_dir, "angry" if day == "monday" else "sad"))
    assert run_cli(["predict", str(folder), "--recursive", "--output", str(tmp_path / "deep"), *model_args], folder) == 0
    written = sorted(str(p.relative_to(tmp_path / "deep")) for p in (tmp_path / "deep").rglob("*.png"))
    assert written == ["a.jpg.annotated.png", "a.png.annotated.png", "monday/a.annotated.png", "tuesday/a.annotated.png"]
    assert len({p.read_bytes() for p in (tmp_path / "deep").rglob("*.png")}) == 4  # none written over another


def test_max_frames_zero_is_refused_and_earlier_results_survive(clip, tmp_path, model_args, capsys):
    out = tmp_path / "out"
    assert run_cli(["predict", str(clip), "--output", str(out), "--quiet", *model_args], clip) == 0
    earlier = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run_cli(["predict", str(clip), "--output", str(out), "--max-frames", "0", *model_args], clip) == 2
    assert "--max-frames: 0 is out of range" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier
    with pytest.raises(ValueError, match="max_frames must be at least 1"):  # the library refuses it too
        from fer_helpers import video

        video.analyse_video(inference.Recogniser(runtime="keras"), clip, out / "clip", max_frames=0)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == earlier


def test_predicting_twice_into_the_input_folder_skips_our_own_outputs(fer_dir, tmp_path, model_args, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"face{i}.jpg"), face_photo(fer_dir, index=i))
    for _ in range(2):
        capsys.readouterr()
        assert run_cli(["predict", str(folder), "--output", str(folder), *model_args], folder) == 0
        assert json.loads(capsys.readouterr().out)["images"] == 2


def test_files_that_are_not_images_by_suffix_are_listed_not_dropped(fer_dir, tmp_path, model_args, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "face.jpg"), face_photo(fer_dir))
    Image.fromarray(cv2.cvtColor(face_photo(fer_dir), cv2.COLOR_BGR2GRAY)).save(folder / "face2.gif")
    (folder / "notes.txt").write_text("not a face")
    (folder / "holiday.annotated.jpg").write_bytes((folder / "face.jpg").read_bytes())  # a user's file, not ours
    (folder / ".hidden").write_text("ignored, as hidden files are")
    for _ in range(2):  # the second run writes into the same folder: our own outputs are neither read nor listed
        capsys.readouterr()
        with pytest.warns(UserWarning, match=r"Left out 1 file\(s\) that are not images by their suffix: .*notes.txt"):
            assert run_cli(["predict", str(folder), "--output", str(folder), *model_args], folder) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["images"] == 3 and summary["faces"] == 3 and summary["skipped"] == []
        assert summary["left_out"] == [str(folder / "notes.txt")]
    only_text = tmp_path / "notes"
    only_text.mkdir()
    (only_text / "a.txt").write_text("x")
    assert run_cli(["predict", str(only_text), "--output", str(tmp_path / "out"), *model_args]) == 2
    assert "1 other file(s) left out: images are found by suffix" in capsys.readouterr().err


def test_avif_and_jpeg_2000_photos_are_images_and_heic_is_named(fer_dir, tmp_path, model_args, capsys):
    folder = tmp_path / "phone"
    folder.mkdir()
    for suffix in ("avif", "jp2"):
        cv2.imwrite(str(folder / f"face.{suffix}"), face_photo(fer_dir))
    (folder / "IMG_0001.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic")  # OpenCV decodes no HEIC
    assert run_cli(["predict", str(folder), "--output", str(tmp_path / "out"), *model_args], folder) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["images"], summary["faces"], summary["left_out"]) == (2, 2, [])
    assert summary["skipped"] == [(f"Cannot read {folder / 'IMG_0001.heic'} as an image (not a decodable image: HEIC, "
                                   "an iPhone's format, which OpenCV cannot read; save it as JPEG)")]
    assert run_cli(["predict", str(folder / "face.avif"), "--output", str(tmp_path / "one"), *model_args], folder) == 0
    assert json.loads(capsys.readouterr().out)["files"]["annotated"] == [str(tmp_path / "one" / "face.annotated.png")]


# Wrong results that look right

def test_truncated_jpeg_is_skipped_and_listed(fer_dir, tmp_path, model_args, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "whole.jpg"), face_photo(fer_dir))
    raw = cv2.imencode(".jpg", face_photo(fer_dir, index=1))[1].tobytes()
    (folder / "half.jpg").write_bytes(raw[: len(raw) // 2])
    assert run_cli(["predict", str(folder), "--output", str(tmp_path / "out"), *model_args], folder) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 1 and len(summary["skipped"]) == 1 and "half.jpg" in summary["skipped"][0]
    assert "truncated JPEG" in summary["skipped"][0]


def test_a_phone_photo_stored_sideways_is_read_upright(videos_dir, tmp_path, model_args, capsys):
    upright = cv2.VideoCapture(str(videos_dir / "single_face.mp4")).read()[1]
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "upright.jpg"), upright)
    sideways = Image.fromarray(cv2.cvtColor(np.rot90(upright).copy(), cv2.COLOR_BGR2RGB))  # as a phone stores it
    exif = sideways.getexif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show"
    sideways.save(folder / "phone.jpg", exif=exif, quality=95)
    assert run_cli(["predict", str(folder), "--output", str(tmp_path / "out"), *model_args], folder) == 0
    faces = pd.read_csv(tmp_path / "out" / "photos.faces.csv").set_index("file")
    phone, plain = faces.loc[str(folder / "phone.jpg")], faces.loc[str(folder / "upright.jpg")]
    assert phone["label"] == plain["label"]
    assert np.abs(phone[["x", "y", "w", "h"]].to_numpy(float) - plain[["x", "y", "w", "h"]].to_numpy(float)).max() <= 4
    assert cv2.imread(str(tmp_path / "out" / "phone.annotated.png")).shape == upright.shape


def test_a_phone_video_whose_frame_rate_drops_keeps_its_real_times(videos_dir, tmp_path, model_args, capsys):
    clip = tmp_path / "phone.mp4"  # 36 frames at 30 fps, then 36 at 10 fps, as a phone records when the light drops
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(videos_dir / "single_face.mp4"),
                    "-vf", "setpts='if(lt(N,36),N/30,1.2+(N-36)/10)/TB'", "-fps_mode", "vfr", "-an", str(clip)], check=True)
    assert run_cli(["predict", str(clip), "--output", str(tmp_path / "out"), "--quiet", *model_args], clip) == 0
    times = pd.read_csv(tmp_path / "out" / "phone.faces.csv").groupby("frame")["time_s"].first()
    assert len(times) == 72
    np.testing.assert_allclose(times[[0, 35, 36, 71]], [0, 35 / 30, 1.2, 4.7], atol=0.002)  # not frame / mean rate


def test_a_video_cut_short_is_reported(videos_dir, tmp_path, model_args, capsys):
    source = cv2.VideoCapture(str(videos_dir / "single_face.mp4"))
    full = tmp_path / "full.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 360))
    for _ in range(60):
        writer.write(source.read()[1])
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert run_cli(["predict", str(cut), "--output", str(tmp_path / "out"), "--quiet", *model_args], cut) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] < 45
    assert summary["warnings"] and f"read {summary['frames']} of the 60 frames" in summary["warnings"][0]
    assert run_cli(["predict", str(full), "--output", str(tmp_path / "out"), "--quiet", *model_args], full) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []


def test_csv_emotions_out_of_range_are_skipped_with_line_numbers(fer_dir, tmp_path):
    pixels = " ".join(map(str, read_gray(real_faces(fer_dir, "test", "happy", 1)[0]).ravel()))
    rows = [f"{emotion},{pixels},Training" for emotion in (3, -1, 9, 3, 0, 0, 0)]
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match="Skipped 2 unusable files"):
        dataset = data.load_dataset(path, val_fraction=0, use_cache=False)
    assert [(s.path, s.reason) for s in dataset.skipped] == [
        ("fer2013.csv:3", "bad row: emotion -1 is not one of 0-6"), ("fer2013.csv:4", "bad row: emotion 9 is not one of 0-6")]
    assert np.bincount(dataset.splits["train"].labels).tolist() == [3, 0, 0, 2]
    with pytest.warns(UserWarning):
        limited = data.load_dataset(path, val_fraction=0, limit_per_class=1, use_cache=False)
    assert len(limited.splits["train"]) == 2  # one angry, one happy


def test_metadata_that_disagrees_with_the_model_is_refused(tmp_path, model_args, fer_dir, capsys):
    source = config.default_model_path()
    for count in (5, 8):
        folder = tmp_path / f"classes{count}"
        folder.mkdir()
        shutil.copy(source, folder / saving.MODEL_FILE)
        metadata = saving.read_metadata(source) | {"classes": list(data.CANONICAL_CLASSES[:count])}
        (folder / saving.METADATA_FILE).write_text(json.dumps(metadata))
        with pytest.raises(saving.ModelMismatchError, match=f"the model has 7 outputs but metadata.json lists {count} classes"):
            inference.Recogniser(folder / saving.MODEL_FILE, runtime="keras")
        photo = tmp_path / "photo.jpg"
        cv2.imwrite(str(photo), face_photo(fer_dir))
        assert run_cli(["predict", str(photo), "--model", str(folder / saving.MODEL_FILE)], photo) == 2
        assert f"lists {count} classes" in capsys.readouterr().err


def test_all_corrupt_class_and_single_class_sets_warn(fer_dir, tmp_path):
    for label in ("happy", "sad"):
        (tmp_path / "set" / label).mkdir(parents=True)
    for path in real_faces(fer_dir, "train", "happy", 4):
        shutil.copy(path, tmp_path / "set" / "happy" / path.name)
    (tmp_path / "set" / "sad" / "broken.jpg").write_bytes(b"not an image")
    with pytest.warns(UserWarning) as caught:
        data.load_dataset(tmp_path / "set", val_fraction=0, test_fraction=0, use_cache=False)
    messages = [str(w.message) for w in caught]
    assert any("Classes with no usable image" in m and "'sad'" in m for m in messages), messages
    assert any("Only 1 class has usable images" in m for m in messages), messages


def test_empty_folder_or_class_folders_need_recursive(fer_dir, tmp_path, model_args, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli(["predict", str(tmp_path / "empty"), *model_args]) == 2
    assert "No images found" in capsys.readouterr().err
    nested = tmp_path / "nested"
    (nested / "happy").mkdir(parents=True)
    cv2.imwrite(str(nested / "happy" / "one.jpg"), face_photo(fer_dir))
    assert run_cli(["predict", str(nested), "--output", str(tmp_path / "out"), *model_args], nested) == 2
    assert "use --recursive" in capsys.readouterr().err
    assert run_cli(["predict", str(nested), "--recursive", "--output", str(tmp_path / "out"), *model_args], nested) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1


def test_pipeline_refuses_unknown_parameters(capsys):
    with pytest.raises(SystemExit, match=r"Unknown parameters \['epoch'\].*'epochs'"):
        pipeline.main(["--only", "03", "-p", "epoch=1"])
    notebook = pipeline.notebooks(["03"])
    with pytest.raises(SystemExit, match=r"Unknown parameters \['03_training.nosuch'\]"):
        pipeline.check_parameters({"03_training": {"nosuch": 1}}, notebook)
    with pytest.raises(SystemExit, match=r"Unknown parameters \['section model_option'\]"):  # a typo is no section
        pipeline.check_parameters({"model_option": {"blocks": 1}}, notebook)
    options = {"model_options": {"blocks": 1}, "03_training": {"epochs": 2}}  # a parameter may hold a dict
    pipeline.check_parameters(options, notebook)
    assert pipeline.parameters_for(notebook[0], options) == {"model_options": {"blocks": 1}, "epochs": 2}


# Tracebacks and crashes instead of a message

def test_negative_camera_is_refused_before_opencv(capsys):
    result = subprocess.run([sys.executable, "-m", "fer_helpers", "webcam", "--camera", "-1"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--camera: -1 is out of range" in result.stderr
    with pytest.raises(inference.SourceError, match="0 or more"):
        sources.VideoSource(-1)


def test_webcam_without_a_display_is_refused_not_aborted(monkeypatch, capsys):
    for variable in DISPLAY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert run_cli(["webcam"]) == 2  # not SIGABRT from Qt's window, not a missing camera's error
    assert capsys.readouterr().err.strip().splitlines() == [(
        "error: No display for the webcam window here (DISPLAY is not set). On a server, use notebook 04's browser "
        'camera (live_source="browser"), or record a video and run `predict` on it.')]


def test_bad_options_and_paths_are_one_line_each(fer_dir, tmp_path, model_args, capsys):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), face_photo(fer_dir))
    (tmp_path / "taken").write_text("a file")
    assert run_cli(["predict", str(photo), "--output", str(tmp_path / "taken"), *model_args], photo) == 2
    assert "is a file" in capsys.readouterr().err
    assert run_cli(["predict", str(photo), "--scale-factor", "1.0", *model_args], photo) == 2
    assert "--scale-factor: 1.0 is out of range: must be above 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="scale_factor must be above 1"):
        detection.HaarDetector(scale_factor=1.0)
    for bad_config in (tmp_path / "missing.yml", tmp_path):
        with pytest.raises(SystemExit, match="Cannot read --config"):
            pipeline.main(["--config", str(bad_config)])
    with pytest.raises(data.DataNotFoundError, match="is a file, not a data set"):
        data.load_dataset(photo)
    recogniser = inference.Recogniser(runtime="keras")
    with pytest.raises(ValueError, match=r"got an array of shape \(0, 0, 3\)"):
        recogniser.detect_emotions(np.zeros((0, 0, 3), np.uint8))
    assert recogniser.detect_emotions(str(photo))[0].label in recogniser.classes  # a path is read, not refused


def test_broken_model_files_are_named(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "model.keras"
    fake.write_text("this is not a model")
    with pytest.raises(saving.ModelLoadError, match=r"Cannot load .*model.keras as a Keras model"):
        inference.Recogniser(fake)
    broken = tmp_path / "model.json"
    broken.write_text("{not json")
    with pytest.raises(saving.ModelLoadError, match=r"model.json"):
        saving.load_model(broken)
    monkeypatch.setenv(config.MODEL_ENV, "")
    assert config.default_model_path() == config.SHIPPED_MODEL  # an empty FER_MODEL means unset
    monkeypatch.setenv(config.MODEL_ENV, str(tmp_path / "gone.keras"))
    with pytest.raises(FileNotFoundError, match=r"gone.keras \(from \$FER_MODEL\)"):
        inference.Recogniser()
    monkeypatch.setenv(config.MODEL_ENV, str(fake))
    (tmp_path / "faces" / "happy").mkdir(parents=True)  # a good folder, so the model is what is refused
    assert run_cli(["evaluate", str(tmp_path / "faces")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: Cannot load {fake} as a Keras model") and "(from $FER_MODEL)" in error


# Noise and consistency

def test_cli_is_quiet_unless_verbose(tmp_path):
    run = lambda *args, **env: subprocess.run([sys.executable, "-m", "fer_helpers", *args], cwd=PROJECT_ROOT,  # noqa: E731
                                              capture_output=True, text=True, timeout=180, env=os.environ | env)
    assert run("predict", "--help").stderr == ""
    missing = run("webcam", "--camera", "7", DISPLAY=":99")  # a display is named, so the camera is tried
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        "error: Webcam 7 could not be opened (none attached, or in use)"]
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    unreadable = run("predict", str(broken), "--output", str(tmp_path / "out"))
    assert unreadable.returncode == 2 and unreadable.stderr.strip().splitlines() == [  # no FFmpeg line ("moov atom not found")
        f"error: Cannot read video {broken} (corrupt, or a format OpenCV cannot decode)"]
    photo, model = tmp_path / "grey.png", tmp_path / "broken.keras"
    cv2.imwrite(str(photo), np.full((64, 64), 128, np.uint8))
    model.write_text("not a model")  # read by Keras, so TensorFlow loads first
    verbose = run("predict", str(photo), "--model", str(model), "--verbose")  # lets their logs through
    assert verbose.returncode == 2 and "TensorFlow" in verbose.stderr


def test_cli_answers_help_and_bad_arguments_without_loading_tensorflow(tmp_path):
    broken, notes, empty, loose = tmp_path / "broken.mp4", tmp_path / "notes.txt", tmp_path / "empty.jpg", tmp_path / "loose"
    broken.write_text("not a video")
    notes.write_text("neither an image nor a video")
    empty.write_bytes(b"")
    loose.mkdir()
    (loose / "face.png").write_bytes(b"")  # an image beside no class folder
    script = f"""
import os
import sys
from fer_helpers.__main__ import main
for argv in (["predict", "--help"], ["webcam", "--camera", "-1"], ["evaluate", "--runtime", "gpu", "x"]):
    try:
        main(argv)
    except SystemExit as exit_:
        print(argv[0], exit_.code)
print(main(["webcam"]))  # no display: refused before the model loads
print(main(["predict", "no/such/photo.jpg"]))
print(main(["predict", {str(broken)!r}]))  # an unreadable video: opened before the model loads
print(main(["predict", {str(notes)!r}]))  # not called a video: its suffix is neither an image's nor a video's
print(main(["predict", {str(empty)!r}]))  # an unreadable image: read before the model loads
print(main(["evaluate", "no/such/faces"]))
print(main(["evaluate", {str(loose)!r}]))
print(main(["evaluate", "no/such.keras", "."]))  # a mistyped model path
os.environ["DISPLAY"] = ":99"
print(main(["webcam", "--camera", "7"]))  # no such camera: named before the model loads
print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"tensorflow", "keras", "jax", "torch"}}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
                            timeout=120, env={k: v for k, v in os.environ.items() if k not in DISPLAY_VARIABLES})
    assert result.stdout.splitlines()[-12:] == ["webcam 2", "evaluate 2", *["2"] * 9, "[]"], result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-9:] == [  # after argparse's usage lines
        ("error: No display for the webcam window here (DISPLAY is not set). On a server, use notebook 04's browser "
         'camera (live_source="browser"), or record a video and run `predict` on it.'),
        "error: No image, folder or video at no/such/photo.jpg",
        f"error: Cannot read video {broken} (corrupt, or a format OpenCV cannot decode)",
        (f"error: Cannot read {notes}: neither an image by its suffix ({', '.join(sorted(IMAGE_SUFFIXES))}) nor a video "
         "OpenCV can decode"),
        f"error: Cannot read {empty} as an image (empty file)",
        "error: No folder at no/such/faces: give a folder of class folders (happy/, sad/, ...)",
        f"error: No class folders in {loose}: give a folder of class folders (happy/, sad/, ...)",
        "error: No model at no/such.keras: train one with notebooks/03_training.ipynb or pass a model path",
        "error: Webcam 7 could not be opened (none attached, or in use)"]


def test_predict_writes_under_fer_artifacts_dir(fer_dir, tmp_path, monkeypatch, model_args, capsys):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), face_photo(fer_dir))
    monkeypatch.setenv("FER_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    assert run_cli(["predict", str(photo), *model_args], photo) == 0
    assert json.loads(capsys.readouterr().out)["files"]["csv"] == str(tmp_path / "artifacts" / "predictions" / "photo.faces.csv")


def test_pipeline_help_names_only_real_architectures():
    result = subprocess.run([sys.executable, "-m", "fer_helpers.pipeline", "--help"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert "mini_resnet" not in result.stdout and "architecture=seed_cnn,fer_resnet" in result.stdout


def test_box_columns_stay_integers_when_some_frames_have_no_face(videos_dir, tmp_path, model_args, capsys):
    clip = copy_file(videos_dir / "single_face.mp4", tmp_path / "clip.mp4")
    blank = tmp_path / "mixed.avi"
    source = cv2.VideoCapture(str(clip))
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 360))
    for i in range(20):
        frame = source.read()[1]
        writer.write(frame if i < 10 else np.full_like(frame, 90))
    writer.release()
    assert run_cli(["predict", str(blank), "--output", str(tmp_path / "out"), "--quiet", *model_args], blank) == 0
    lines = (tmp_path / "out" / "mixed.faces.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
    assert any(row["x"] == "" for row in rows) and any(row["x"] for row in rows)  # frames with and without a face
    assert all(row["x"].isdigit() and row["face_id"].isdigit() for row in rows if row["x"])  # 220, not 220.0
