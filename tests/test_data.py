"""fer_helpers.data on real FER2013 images and on bad input made here."""

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import read_gray, real_faces
from fer_helpers import data

FLAT_FOLDERS = ["anger", "contempt", "disgust", "fear", "happiness", "neutrality", "sadness", "surprise"]


def tree_digest(root: Path) -> str:
    """A hash of every file's path and bytes under root (to prove nothing was modified)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_real_subset_loads_with_stratified_validation(fer_dir):
    dataset = data.load_dataset(fer_dir, limit_per_class=40)
    assert dataset.classes == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert set(dataset.splits) == {"train", "val", "test"}
    assert len(dataset.splits["test"]) == 7 * 40
    assert len(dataset.splits["train"]) + len(dataset.splits["val"]) == 7 * 40
    assert np.bincount(dataset.splits["val"].labels).tolist() == [4] * 7
    train_sources = set(dataset.splits["train"].sources)
    assert train_sources.isdisjoint(dataset.splits["val"].sources)
    assert all("/train/" in s for s in dataset.splits["val"].sources)
    images, labels = dataset.arrays("train")
    assert images.shape[1:] == (48, 48, 1) and images.dtype == np.uint8
    first = dataset.splits["test"].sources[0]
    assert np.array_equal(dataset.splits["test"].images[0], read_gray(Path(first)))
    assert dataset.modes == {"48x48 gray 8-bit": 7 * 80}


def test_validation_split_is_seeded(fer_dir):
    a = data.load_dataset(fer_dir, limit_per_class=20, use_cache=False)
    b = data.load_dataset(fer_dir, limit_per_class=20, use_cache=False)
    c = data.load_dataset(fer_dir, limit_per_class=20, use_cache=False, seed=7)
    assert list(a.splits["val"].sources) == list(b.splits["val"].sources)
    assert list(a.splits["val"].sources) != list(c.splits["val"].sources)
    assert a.fingerprint == b.fingerprint


def test_data_dir_precedence_and_missing_message(fer_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FER_DATA_DIR", str(fer_dir))
    assert data.resolve_data_dir() == fer_dir
    assert data.resolve_data_dir(tmp_path) == tmp_path
    with pytest.raises(data.DataNotFoundError, match="download"):
        data.resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv("FER_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(data.DataNotFoundError, match="FER_DATA_DIR"):
        data.load_dataset()


def test_bad_loading_options_are_refused_by_name(fer_dir):
    for limit in (-5, 0, "abc", 2.5, True):  # -5 used to drop 5 images a class and report success
        with pytest.raises(ValueError, match="limit_per_class must be a whole number, at least 1"):
            data.load_dataset(fer_dir, limit_per_class=limit)
    with pytest.raises(ValueError, match="val_fraction must be a number, at least 0 and at most 0.9; not 1.5"):
        data.load_dataset(fer_dir, val_fraction=1.5)


def test_folder_without_class_folders_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(data.DataNotFoundError, match="No class folders"):
        data.load_dataset(tmp_path)


def make_flat_set(fer_dir: Path, root: Path, per_class: int = 10) -> None:
    """The 'Natural Human Face Images' layout: 8 class folders of 224x224 grayscale PNGs, no split."""
    sources = dict(zip(FLAT_FOLDERS, ["angry", "disgust", "disgust", "fear", "happy", "neutral", "sad", "surprise"]))
    for folder, source in sources.items():
        (root / folder).mkdir(parents=True)
        for i, path in enumerate(real_faces(fer_dir, "train", source, per_class)):
            big = cv2.resize(read_gray(path), (224, 224), interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(root / folder / f"{i}.png"), big)


def test_flat_layout_is_split_and_mapped_to_canonical_names(fer_dir, tmp_path):
    make_flat_set(fer_dir, tmp_path)
    dataset = data.load_dataset(tmp_path, val_fraction=0.1, test_fraction=0.2)
    assert dataset.classes == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "contempt"]
    sizes = {name: len(part) for name, part in dataset.splits.items()}
    assert sizes == {"train": 8 * 7, "val": 8 * 1, "test": 8 * 2}
    assert dataset.splits["train"].images.shape[1:] == (48, 48)
    assert dataset.modes == {"224x224 gray 8-bit": 80}


def test_subfolders_of_a_class_folder_count_and_a_zips_macosx_folder_is_not_a_class(fer_dir, tmp_path):
    make_flat_set(fer_dir, tmp_path / "set", per_class=4)
    (tmp_path / "set" / "happiness" / "2019").mkdir()  # a user's own sorting inside a class
    for i in range(3):
        shutil.copy(tmp_path / "set" / "happiness" / f"{i}.png", tmp_path / "set" / "happiness" / "2019" / f"again{i}.png")
    (tmp_path / "set" / "__MACOSX" / "happiness").mkdir(parents=True)  # what unzipping a Mac's zip leaves
    (tmp_path / "set" / "__MACOSX" / "happiness" / "._0.png").write_bytes(b"\0\5\22\7")
    (tmp_path / "set" / "happiness" / "loop").symlink_to(tmp_path / "set")
    listing = data.list_files(tmp_path / "set")
    assert "__macosx" not in listing.classes and len(listing.classes) == 8
    assert sum(label == "happy" for _, label, _ in listing.files) == 4 + 3
    assert sorted(Path(s.path).name for s in listing.skipped) == ["__MACOSX", "loop"]  # named, not silently dropped
    (tmp_path / "set" / "fearful").mkdir()  # a second folder for fear, empty
    with pytest.warns(UserWarning) as caught:
        data.load_dataset(tmp_path / "set", use_cache=False)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("Skipped 2 folders") and "__MACOSX" in m and "loop" in m for m in messages), messages
    assert not any("unusable files" in m for m in messages)  # folders are not counted as files
    assert any(m.startswith("Empty class folders") and m.endswith("['fearful']") for m in messages), messages


def test_bad_files_are_skipped_counted_and_left_untouched(fer_dir, tmp_path):
    happy = tmp_path / "train" / "happy"
    happy.mkdir(parents=True)
    (tmp_path / "train" / "sad").mkdir()  # empty class folder
    (tmp_path / "test" / "happy").mkdir(parents=True)
    faces = real_faces(fer_dir, "train", "happy", 3)
    for path in faces:
        shutil.copy(path, happy / path.name)
    shutil.copy(faces[0], tmp_path / "test" / "happy" / "a.jpg")
    raw = faces[1].read_bytes()
    (happy / "truncated.jpg").write_bytes(raw[: len(raw) // 2])
    (happy / "garbage.jpg").write_bytes(b"\xff\xd8 not really a jpeg \xff\xd9")
    (happy / "notes.png").write_text("this is text, not an image")
    (happy / "zero.png").write_bytes(b"")
    face = read_gray(faces[2])
    rgba = np.dstack([face, face, face, np.full_like(face, 128)])
    cv2.imwrite(str(happy / "rgba.png"), rgba)
    cv2.imwrite(str(happy / "deep.png"), (face.astype(np.uint16) * 257))
    Image.fromarray(face).convert("P").save(happy / "palette.png")
    cv2.imwrite(str(happy / "large.png"), cv2.resize(face, (224, 224)))
    before = tree_digest(tmp_path)

    with pytest.warns(UserWarning, match="Skipped 4 unusable files") as caught:
        dataset = data.load_dataset(tmp_path, val_fraction=0)
    assert any("Empty class folders" in str(w.message) for w in caught)
    reasons = {Path(s.path).name: s.reason for s in dataset.skipped}
    assert reasons == {
        "truncated.jpg": "truncated JPEG",
        "garbage.jpg": "not a decodable image",
        "notes.png": "not a decodable image",
        "zero.png": "empty file",
    }
    assert dataset.empty_classes == ["train/sad"]
    assert len(dataset.splits["train"]) == 3 + 4
    assert dataset.splits["train"].images.shape[1:] == (48, 48)
    assert {"48x48 color 8-bit", "48x48 gray 16-bit", "224x224 gray 8-bit"} <= set(dataset.modes)  # alpha dropped
    sources = list(dataset.splits["train"].sources)
    deep = dataset.splits["train"].images[sources.index(str(happy / "deep.png"))]
    assert np.array_equal(deep, face)
    assert tree_digest(tmp_path) == before


def test_exif_orientation_turns_a_stored_face_upright(fer_dir, tmp_path):
    face = read_gray(real_faces(fer_dir, "train", "happy", 1)[0])
    folder = tmp_path / "train" / "happy"
    folder.mkdir(parents=True)
    # how a camera stores the face for each orientation tag: PIL's exif_transpose (the reference) undoes it
    stored = {2: face[:, ::-1], 3: np.rot90(face, 2), 6: np.rot90(face, 1), 8: np.rot90(face, -1)}
    for orientation, pixels in stored.items():
        for suffix in ("png", "webp"):  # lossless, so the upright face must come back exactly
            image = Image.fromarray(np.ascontiguousarray(pixels))
            exif = image.getexif()
            exif[0x0112] = orientation
            path = folder / f"o{orientation}.{suffix}"
            image.save(path, exif=exif, lossless=True)
            assert np.array_equal(np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("L")), face)
    with pytest.warns(UserWarning, match="Only 1 class"):
        dataset = data.load_dataset(tmp_path, val_fraction=0, use_cache=False)
    assert len(dataset.splits["train"]) == 8 and not dataset.skipped
    for image, source in zip(dataset.splits["train"].images, dataset.splits["train"].sources):
        assert np.array_equal(image, face), source


def test_fer2013_csv_with_bad_rows(fer_dir, tmp_path):
    rows = ["emotion,pixels,Usage"]
    for usage, split in [("Training", "train"), ("PublicTest", "test"), ("PrivateTest", "test")]:
        for emotion, label in enumerate(data.CSV_CLASSES):
            for path in real_faces(fer_dir, split, label, 3):
                rows.append(f"{emotion},{' '.join(map(str, read_gray(path).ravel()))},{usage}")
    rows += ["9,1 2 3 4,Training", "3,1 2 3,Training", "x,1 2 3 4,PublicTest", "3,1 2 3 4,Elsewhere"]
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")

    with pytest.warns(UserWarning, match="Skipped 4"):
        dataset = data.load_dataset(tmp_path, val_fraction=1 / 3)
    assert dataset.classes == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert {name: len(part) for name, part in dataset.splits.items()} == {"train": 14, "val": 7, "test": 42}
    happy = dataset.splits["test"].images[dataset.splits["test"].labels == 3][0]
    assert np.array_equal(happy, read_gray(real_faces(fer_dir, "test", "happy", 1)[0]))
    with pytest.raises(ValueError, match="missing columns"):
        (tmp_path / "other.csv").write_text("a,b\n1,2\n")
        data.load_dataset(tmp_path / "other.csv")


def test_cache_is_reused_and_invalidated_when_files_change(fer_dir, tmp_path):
    for label in ("happy", "sad"):
        (tmp_path / "train" / label).mkdir(parents=True)
        for path in real_faces(fer_dir, "train", label, 5):
            shutil.copy(path, tmp_path / "train" / label / path.name)
    first = data.load_dataset(tmp_path, val_fraction=0)
    cached = list(data.cache_dir().glob(f"{tmp_path.name}-*.npz"))
    assert len(cached) == 1
    second = data.load_dataset(tmp_path, val_fraction=0)
    assert np.array_equal(first.splits["train"].images, second.splits["train"].images)
    assert second.fingerprint == first.fingerprint

    shutil.copy(real_faces(fer_dir, "test", "sad", 1)[0], tmp_path / "train" / "sad" / "new.jpg")
    third = data.load_dataset(tmp_path, val_fraction=0)
    assert len(third.splits["train"]) == 11
    assert third.fingerprint != first.fingerprint


def test_a_cache_that_cannot_be_written_only_warns(fer_dir, tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "a_file" / "cache"))  # cannot be created, even by root
    with pytest.warns(UserWarning, match="Could not write the cache"):
        dataset = data.load_dataset(fer_dir, limit_per_class=3)
    assert len(dataset.splits["train"]) == 3 * 7 - len(dataset.splits["val"])


def test_download_offline_fails_with_a_clear_message(tmp_path, monkeypatch):
    for variable in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")  # refused at once: no traffic leaves the machine
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    with pytest.raises(data.DataNotFoundError, match="Could not download fer2013"):
        data.download("fer2013", tmp_path / "fer2013")
    with pytest.raises(ValueError, match="Unknown data set"):
        data.download("imagenet")
    (tmp_path / "mine" / "happy").mkdir(parents=True)
    (tmp_path / "mine" / "happy" / "a.jpg").write_bytes(b"the user's own face")
    with pytest.raises(FileExistsError, match="mine already exists"):  # refused before any download
        data.download("fer2013", tmp_path / "mine")
    assert (tmp_path / "mine" / "happy" / "a.jpg").read_bytes() == b"the user's own face"


def test_a_downloaded_set_is_put_in_place_whole(fer_dir, tmp_path):
    fetched = tmp_path / "fetched"  # what kagglehub hands over: a folder holding train/ and test/
    for split in ("train", "test"):
        for path in real_faces(fer_dir, split, "happy", 3):
            (fetched / split / "happy").mkdir(parents=True, exist_ok=True)
            shutil.copy(path, fetched / split / "happy" / path.name)
    (tmp_path / "data").mkdir()
    installed = data.install_copy(fetched, tmp_path / "data" / "fer2013")
    assert tree_digest(installed) == tree_digest(fetched)
    with pytest.raises(FileExistsError):
        data.install_copy(fetched, installed)
    (fetched / "test" / "happy" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")  # the copy fails half-way
    with pytest.raises(shutil.Error):
        data.install_copy(fetched, tmp_path / "data" / "second")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["fer2013"]  # no partial copy left, hidden or not
