"""Load face-expression data sets into grayscale arrays: folder layouts, fer2013.csv, caching."""

from __future__ import annotations

import csv
import hashlib
import json
import numbers
import os
import shutil
import tempfile
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fer_helpers.config import (
    CANONICAL_CLASSES,
    CLASS_ALIASES,
    DATA_DIR_ENV,
    DEFAULT_DATA_DIR,
    IMAGE_SIZE,
    SEED,
    cache_dir,
)
from fer_helpers.files import atomic_write

# Bump when what a cache holds changes (2: CSV emotion range checked, CSV limit_per_class; 3: EXIF orientation
# applied, skipped folders marked as folders).
CACHE_FORMAT = 3
# Image files are decoded at their stored bit depth (8 or 16) and gray or colour as stored, turned upright by an EXIF
# orientation tag as a phone photo is shown, alpha dropped (grayscale ignores it). OpenCV applies the tag with these
# flags but not with IMREAD_UNCHANGED; on FER2013's JPEGs both give the same arrays, these a little faster.
DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
UNDECODABLE_HINTS = dict.fromkeys((".heic", ".heif"), ": HEIC, an iPhone's format, which OpenCV cannot read; save it as JPEG")
DECODE_CHUNK = 512  # files per thread task: large enough that scheduling costs nothing
SPLIT_NAMES = {"train": "train", "val": "val", "validation": "val", "valid": "val", "test": "test"}
CSV_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CSV_USAGE = {"Training": "train", "PublicTest": "test", "PrivateTest": "test"}
KAGGLE_DATASETS = {"fer2013": "msambare/fer2013"}
HOW_TO_GET = (
    "Get FER2013 with `python -c \"import fer_helpers.data as d; d.download('fer2013')\"` "
    "(needs a network and a Kaggle account), or download https://www.kaggle.com/datasets/msambare/fer2013 "
    f"yourself, unzip it to {DEFAULT_DATA_DIR} or point ${DATA_DIR_ENV} (or the data_dir parameter) at it."
)


class DataNotFoundError(FileNotFoundError):
    """No data set where one was expected; the message says how to get one."""


@dataclass
class Split:
    """One split: images (n, h, w) uint8, integer labels, source paths and content hashes."""

    images: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> Split:
        """The rows at `index`, as a new split."""
        return Split(self.images[index], self.labels[index], self.sources[index], self.hashes[index])


@dataclass
class Skipped:
    """A file (or a folder that is not read) that could not be used, and why."""

    path: str
    reason: str
    folder: bool = False


@dataclass
class Dataset:
    """A loaded data set: canonical class names, splits and what was skipped on the way."""

    root: Path
    classes: list[str]
    splits: dict[str, Split]
    skipped: list[Skipped] = field(default_factory=list)
    modes: Counter = field(default_factory=Counter)
    empty_classes: list[str] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, h, w, 1) uint8 and labels of one split, ready for a Keras model."""
        part = self.splits[split]
        return part.images[..., np.newaxis], part.labels


def canonical_class(folder_name: str) -> str:
    """Map a folder name such as 'Happiness' onto the canonical label ('happy')."""
    name = folder_name.strip().lower()
    return CLASS_ALIASES.get(name, name)


def order_classes(names: set[str]) -> list[str]:
    """Canonical order for known classes, then any others alphabetically."""
    known = [c for c in CANONICAL_CLASSES if c in names]
    return known + sorted(names - set(known))


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Data location: explicit parameter > $FER_DATA_DIR > data/fer2013, with a clear error if missing."""
    if data_dir is not None:
        path, origin = Path(data_dir), "the data_dir parameter"
    elif os.environ.get(DATA_DIR_ENV):
        path, origin = Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"
    else:
        path, origin = DEFAULT_DATA_DIR, "the default location"
    if not path.exists():
        raise DataNotFoundError(f"No data set at {path} (from {origin}). {HOW_TO_GET}")
    return path


def download(name: str = "fer2013", dest: str | os.PathLike | None = None) -> Path:
    """Download a data set with kagglehub into `dest` (default data/<name>, which must not hold files yet) and
    return its path."""
    if name not in KAGGLE_DATASETS:
        raise ValueError(f"Unknown data set {name!r}; known: {sorted(KAGGLE_DATASETS)}")
    dest = Path(dest) if dest is not None else DEFAULT_DATA_DIR.parent / name
    _refuse_filled(dest)  # before downloading anything
    try:
        import kagglehub

        fetched = Path(kagglehub.dataset_download(KAGGLE_DATASETS[name]))
    except Exception as error:  # kagglehub raises many kinds; all mean the same to a user
        raise DataNotFoundError(
            f"Could not download {name} ({type(error).__name__}: {error}). "
            f"Without a network, copy the data set by hand. {HOW_TO_GET}"
        ) from None
    return install_copy(fetched, dest)


def _refuse_filled(dest: Path) -> None:
    """Refuse a destination that already holds files: a download never writes over a data set."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} already exists and is not an empty folder: remove it, or give another dest")


def install_copy(source: Path, dest: Path) -> Path:
    """Copy a downloaded data set to `dest` whole: into a hidden folder beside it, renamed into place once complete,
    so an interrupted or failed copy never passes for a smaller data set."""
    _refuse_filled(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        shutil.copytree(source, partial, dirs_exist_ok=True)
        os.replace(partial, dest)  # over an empty folder too
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return dest


def to_gray(image: np.ndarray, size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """Any decoded image (gray, BGR, BGRA; 8 or 16 bit) as uint8 grayscale of `size` (h, w)."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    elif image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif image.ndim == 3:
        image = image[..., 0]
    if image.shape != tuple(size):
        shrinking = image.shape[0] > size[0]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (size[1], size[0]), interpolation=interpolation)
    return image


def describe_mode(image: np.ndarray) -> str:
    """A short description of a decoded image's size and mode, e.g. '48x48 gray 8-bit'."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    kind = {1: "gray", 3: "color", 4: "color+alpha"}.get(channels, f"{channels}-channel")
    return f"{image.shape[1]}x{image.shape[0]} {kind} {image.dtype.itemsize * 8}-bit"


def read_image_file(path: Path) -> tuple[np.ndarray | None, str, str]:
    """Read one file at full size: (image or None, content hash, mode or the reason it is unusable)."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, "", f"unreadable: {error.strerror or error}"
    if not raw:
        return None, "", "empty file"
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
    if raw[:2] == b"\xff\xd8" and not raw.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return None, digest, "truncated JPEG"
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), DECODE_FLAGS)
    if image is None or image.size == 0:
        return None, digest, "not a decodable image" + UNDECODABLE_HINTS.get(path.suffix.lower(), "")
    return image, digest, describe_mode(image)


def decode_file(path: Path, size: tuple[int, int]) -> tuple[np.ndarray | None, str, str]:
    """Read one file as grayscale of `size`: (image or None, content hash, mode or the reason it was skipped)."""
    image, digest, info = read_image_file(path)
    if image is None:
        return None, digest, info
    try:
        return to_gray(image, size), digest, info
    except ValueError as error:
        return None, digest, str(error)


@dataclass
class _Listing:
    """Files found on disk, grouped by on-disk split and canonical class."""

    files: list[tuple[str, str, Path]]  # (split, class, path)
    classes: list[str]
    empty_classes: list[str]  # class folders without a file, as on disk: "sad", or "train/sad" under a split folder
    skipped: list[Skipped]


def _list_class_folders(folder: Path, split: str, listing: _Listing) -> None:
    """Add the files of every class folder under `folder`, its subfolders' included, to the listing."""
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if class_dir.name.startswith("__"):  # __MACOSX (a zip's resource forks), __pycache__: not a class
            listing.skipped.append(Skipped(str(class_dir), "not a class folder (a name starting with __)", folder=True))
            continue
        files = [Path(path) for path in sorted(_files_under(class_dir, listing))]
        label = canonical_class(class_dir.name)
        if label not in listing.classes:
            listing.classes.append(label)
        if not files:
            listing.empty_classes.append(class_dir.name if split == "all" else f"{folder.name}/{class_dir.name}")
        listing.files.extend((split, label, path) for path in files)


def _files_under(folder: Path, listing: _Listing) -> list[str]:
    """The paths of every file in folder and its subfolders, hidden ones (and hidden folders) left out; a folder
    that cannot be read, or a link to a folder (which could loop), goes to the listing's skipped."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    found.extend(_files_under(Path(entry.path), listing))
                elif entry.is_file():  # not sockets, pipes or broken links
                    found.append(entry.path)
                elif entry.is_dir():
                    listing.skipped.append(Skipped(entry.path, "a link to a folder inside a class folder: not followed", folder=True))
    except OSError as error:
        listing.skipped.append(Skipped(str(folder), f"unreadable folder: {error.strerror or error}", folder=True))
    return found


def labelled_folder(path: str | Path) -> Path:
    """The folder of class folders a user named, or a DataNotFoundError saying what to give (not how to get FER2013)."""
    root = Path(path)
    hint = "give a folder of class folders (happy/, sad/, ...)"
    if not root.is_dir():
        raise DataNotFoundError(f"No folder at {root}: {hint}")
    if not any(child.is_dir() and not child.name.startswith((".", "__")) for child in root.iterdir()):
        raise DataNotFoundError(f"No class folders in {root}: {hint}")
    return root


def list_files(root: Path) -> _Listing:
    """List a folder data set: either split folders (train/, test/) of class folders, or class folders."""
    listing = _Listing([], [], [], [])
    split_dirs = [p for p in root.iterdir() if p.is_dir() and p.name.lower() in SPLIT_NAMES]
    if split_dirs:
        for split_dir in sorted(split_dirs):
            _list_class_folders(split_dir, SPLIT_NAMES[split_dir.name.lower()], listing)
    else:
        _list_class_folders(root, "all", listing)
    if not listing.classes:
        raise DataNotFoundError(f"No class folders found in {root}. {HOW_TO_GET}")
    listing.classes = order_classes(set(listing.classes))
    return listing


def check_number(name: str, value: object, low: float, high: float | None = None, whole: bool = False,
                 above: bool = False) -> None:
    """Refuse a setting that is not a number from low (above it if `above`) to high (a whole number if `whole`),
    naming it: a string or a negative count given as a parameter must not fail deep inside, or quietly do
    something else."""
    kind = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or value < low or (above and value == low) or (
            high is not None and value > high):
        what = "a whole number" if whole else "a number"
        span = f"{'above' if above else 'at least'} {low}" + ("" if high is None else f" and at most {high}")
        raise ValueError(f"{name} must be {what}, {span}; not {value!r}")


def limited_indices(keys: list, limit_per_class: int | None, seed: int) -> list[int]:
    """Indices keeping at most `limit_per_class` items of each key (a class, or a split and class), drawn with
    a fixed seed, in their original order."""
    if not limit_per_class:
        return list(range(len(keys)))
    groups: dict = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    rng = np.random.default_rng(seed)
    return sorted(index for key in sorted(groups) for index in rng.permutation(groups[key])[:limit_per_class])


def _limit(listing: _Listing, limit_per_class: int | None, seed: int) -> list[tuple[str, str, Path]]:
    """At most `limit_per_class` files of each (split, class), drawn with a fixed seed."""
    return [listing.files[i] for i in limited_indices([entry[:2] for entry in listing.files], limit_per_class, seed)]


def _cache_key(*parts: object) -> str:
    """A short hash of everything that decides a cached load's contents."""
    return hashlib.blake2b(json.dumps(parts, default=str).encode(), digest_size=12).hexdigest()


def _stat_signature(files: list[tuple[str, str, Path]]) -> list[tuple[str, int, int]]:
    """Path, size and modification time of each file: changes whenever a file does."""
    signature = []
    for _, _, path in files:
        stat = path.stat()
        signature.append((str(path), stat.st_size, stat.st_mtime_ns))
    return signature


def _save_cache(path: Path, splits: dict[str, Split], meta: dict) -> None:
    """Write decoded splits and their metadata whole (files.atomic_write)."""
    arrays = {}
    for name, part in splits.items():
        for attr in ("images", "labels", "sources", "hashes"):
            arrays[f"{name}.{attr}"] = getattr(part, attr)
    atomic_write(path, lambda tmp: np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays))


def _load_cache(path: Path) -> tuple[dict[str, Split], dict] | None:
    """Read a cache file written by _save_cache, or None if it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            splits = {
                name: Split(*(stored[f"{name}.{attr}"] for attr in ("images", "labels", "sources", "hashes")))
                for name in meta["splits"]
            }
        return splits, meta
    except (OSError, ValueError, KeyError):
        return None


def _decode_all(
    files: list[tuple[str, str, Path]], classes: list[str], size: tuple[int, int], progress: bool
) -> tuple[dict[str, Split], list[Skipped], Counter]:
    """Decode every listed file in parallel threads (OpenCV releases the GIL)."""
    paths = [entry[2] for entry in files]
    chunks = [paths[i : i + DECODE_CHUNK] for i in range(0, len(paths), DECODE_CHUNK)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        decoded = pool.map(lambda chunk: [decode_file(path, size) for path in chunk], chunks)
        if progress:
            from tqdm.auto import tqdm

            decoded = tqdm(decoded, total=len(chunks), desc=f"decoding {len(paths)} images", unit="chunk")
        results = [result for chunk in decoded for result in chunk]
    skipped, modes, rows = [], Counter(), {}
    for (split, label, path), (image, digest, info) in zip(files, results):
        if image is None:
            skipped.append(Skipped(str(path), info))
            continue
        modes[info] += 1
        rows.setdefault(split, []).append((image, classes.index(label), str(path), digest))
    splits = {name: _stack(entries, size) for name, entries in rows.items()}
    return splits, skipped, modes


def _stack(entries: list[tuple], size: tuple[int, int]) -> Split:
    """Rows of (image, label, source, hash) as one Split of arrays."""
    if not entries:
        return Split(np.zeros((0, *size), np.uint8), np.zeros(0, np.int64), np.array([], str), np.array([], str))
    images, labels, sources, hashes = zip(*entries)
    return Split(np.stack(images), np.array(labels, np.int64), np.array(sources), np.array(hashes))


def read_fer2013_csv(path: Path, size: tuple[int, int] = IMAGE_SIZE) -> tuple[dict[str, Split], list[Skipped]]:
    """Read the original fer2013.csv (emotion, pixels, Usage); bad rows are skipped and reported."""
    classes = order_classes(set(CSV_CLASSES))
    rows: dict[str, list] = {}
    skipped = []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path} is not in fer2013.csv format: missing columns {sorted(missing)}")
        for number, row in enumerate(reader, start=2):
            source = f"{path.name}:{number}"
            try:
                emotion = int(row["emotion"])
                if not 0 <= emotion < len(CSV_CLASSES):
                    raise ValueError(f"emotion {emotion} is not one of 0-{len(CSV_CLASSES) - 1}")
                label = classes.index(CSV_CLASSES[emotion])
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                side = int(round(np.sqrt(pixels.size)))
                if side * side != pixels.size or side == 0:
                    raise ValueError(f"{pixels.size} pixels is not a square image")
                split = CSV_USAGE[row["Usage"]]
            except (ValueError, IndexError, KeyError, TypeError, OverflowError) as error:
                skipped.append(Skipped(source, f"bad row: {error}"))
                continue
            image = to_gray(pixels.reshape(side, side), size)
            digest = hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest()
            rows.setdefault(split, []).append((image, label, source, digest))
    return {name: _stack(entries, size) for name, entries in rows.items()}, skipped


def stratified_split(labels: np.ndarray, fraction: float, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, taken) with `fraction` of each class (at least one) taken, drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    kept, taken = [], []
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(len(index) * fraction))
        if fraction > 0 and count == 0 and len(index) > 1:
            count = 1  # every class appears in every split, even in tiny subsets
        taken.append(index[:count])
        kept.append(index[count:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(taken))


def _make_splits(raw: dict[str, Split], val_fraction: float, test_fraction: float, seed: int) -> dict[str, Split]:
    """train/val/test: keep given splits, carve val from train, and test too when there is none."""
    splits = dict(raw)
    if "all" in splits:
        pool = splits.pop("all")
        rest, test = stratified_split(pool.labels, test_fraction, seed)
        splits["train"], splits["test"] = pool.take(rest), pool.take(test)
    if "val" not in splits and "train" in splits and val_fraction > 0:
        train = splits["train"]
        rest, val = stratified_split(train.labels, val_fraction, seed + 1)
        splits["train"], splits["val"] = train.take(rest), train.take(val)
    return {name: splits[name] for name in ("train", "val", "test") if name in splits}


def fingerprint(splits: dict[str, Split]) -> str:
    """A content hash of a data set: the same images and labels give the same value anywhere."""
    digest = hashlib.blake2b(digest_size=12)
    for name in sorted(splits):
        for label, content in sorted(zip(splits[name].labels.tolist(), splits[name].hashes.tolist())):
            digest.update(f"{name}/{label}/{content};".encode())
    return digest.hexdigest()


def _read_source(root: Path, size, limit_per_class, seed, use_cache, progress) -> tuple[dict[str, Split], dict]:
    """Decode a folder or CSV data set, through the on-disk cache when allowed."""
    if root.is_file() and root.suffix.lower() != ".csv":
        raise DataNotFoundError(f"{root} is a file, not a data set: give a folder of class folders, a folder with "
                                f"train/ and test/, or fer2013.csv. {HOW_TO_GET}")
    csv_path = root if root.is_file() else root / "fer2013.csv"
    is_csv = csv_path.is_file() and not (root / "train").is_dir()
    if is_csv:
        stat = csv_path.stat()
        key = _cache_key(CACHE_FORMAT, str(csv_path.resolve()), stat.st_size, stat.st_mtime_ns, size, limit_per_class, seed)
        listing = None
    else:
        listing = list_files(root)
        files = _limit(listing, limit_per_class, seed)
        key = _cache_key(CACHE_FORMAT, str(root.resolve()), size, _stat_signature(files))
    cache_file = cache_dir() / f"{root.name}-{key}.npz"
    if use_cache and (cached := _load_cache(cache_file)) is not None:
        return cached
    if is_csv:
        raw, skipped = read_fer2013_csv(csv_path, size)
        raw = {name: part.take(np.array(limited_indices(part.labels.tolist(), limit_per_class, seed), np.int64))
               for name, part in raw.items()}
        meta = {"classes": order_classes(set(CSV_CLASSES)), "modes": {}, "empty": []}
    else:
        raw, skipped, modes = _decode_all(files, listing.classes, size, progress)
        skipped = listing.skipped + skipped
        meta = {"classes": listing.classes, "modes": dict(modes), "empty": listing.empty_classes}
    meta |= {"splits": sorted(raw), "skipped": [(s.path, s.reason, s.folder) for s in skipped]}
    if use_cache:
        try:
            _save_cache(cache_file, raw, meta)
        except OSError as error:  # a read-only or full disk: the cache only saves time, the data set is loaded
            warnings.warn(f"Could not write the cache {cache_file} ({error.strerror or error}); loaded without caching")
    return raw, meta


def _warn_about_classes(root: Path, classes: list[str], splits: dict[str, Split]) -> None:
    """Warn about classes left without a usable image, and about a data set a classifier cannot learn from."""
    counts = np.bincount(np.concatenate([part.labels for part in splits.values()]), minlength=len(classes))
    unusable = [name for name, count in zip(classes, counts) if count == 0]
    if unusable:
        warnings.warn(f"Classes with no usable image in {root}: {unusable} (every file skipped, or none there)")
    if (counts > 0).sum() < 2:
        warnings.warn(f"Only {(counts > 0).sum()} class has usable images in {root}: a classifier needs at least two")


def load_dataset(
    data_dir: str | os.PathLike | None = None,
    *,
    image_size: tuple[int, int] = IMAGE_SIZE,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    limit_per_class: int | None = None,
    seed: int = SEED,
    use_cache: bool = True,
    progress: bool = False,
) -> Dataset:
    """Load a data set as grayscale arrays with train/val/test splits; bad files are skipped and counted.

    Accepts split folders (train/ + test/, one folder per class), class folders with no split
    (then train/val/test are drawn stratified), or fer2013.csv. The validation split is always
    carved from train; test stays untouched for final reports. Nothing on disk is modified.
    """
    if limit_per_class is not None:
        check_number("limit_per_class", limit_per_class, 1, whole=True)  # None reads every image
    check_number("val_fraction", val_fraction, 0, 0.9)
    check_number("test_fraction", test_fraction, 0, 0.9)
    root = resolve_data_dir(data_dir)
    size = tuple(image_size)
    raw, meta = _read_source(root, size, limit_per_class, seed, use_cache, progress)
    skipped = [Skipped(*entry) for entry in meta["skipped"]]
    if files := [s for s in skipped if not s.folder]:
        reasons = Counter(s.reason.split(":")[0] for s in files)
        warnings.warn(f"Skipped {len(files)} unusable files in {root}: {dict(reasons)} (see dataset.skipped)")
    if folders := [s for s in skipped if s.folder]:
        warnings.warn(f"Skipped {len(folders)} folders in {root}: " + "; ".join(f"{s.path} ({s.reason})" for s in folders))
    if meta["empty"]:
        warnings.warn(f"Empty class folders in {root}: {meta['empty']}")
    splits = _make_splits(raw, val_fraction, test_fraction, seed)
    if not any(len(part) for part in splits.values()):
        raise DataNotFoundError(f"No usable images found in {root}. {HOW_TO_GET}")
    _warn_about_classes(root, meta["classes"], splits)
    return Dataset(
        root=root,
        classes=meta["classes"],
        splits=splits,
        skipped=skipped,
        modes=Counter(meta["modes"]),
        empty_classes=meta["empty"],
        fingerprint=fingerprint(raw),
    )
