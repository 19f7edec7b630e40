"""Where images come from: image folders, IDX files, `.npz` arrays and `builtin:` image sets.

Every loader returns an `ImageSet` whose `images` are float32 (N, C, H, W) in [0, 1], so models and metrics
never see a file format. Built-ins need no network and carry fixed train/test splits:

- `builtin:fashion-mnist`: Debian's `dataset-fashion-mnist` (IDX files under /usr/share/datasets/fashion-mnist),
  the official 60,000 / 10,000 split, 28x28 grey, labels 0-9.
- `builtin:digits`: scikit-learn's 1,797 8x8 digits (values 0..16 scaled to [0, 1]); image i is in the test
  split when i % 5 == 4 (20%), the rest train.
- `builtin:photos`: scikit-image's bundled photographs cut into non-overlapping `size` x `size` patches (default
  32, RGB); split by photograph (`PHOTOS_TEST`), so no test patch shares a photo with a training patch.
- `builtin:photos64`: the same photographs plus `retina.jpg`, each at scales 1, 3/4 and 1/2 (bicubic), cut into
  64x64 RGB crops on a 32-pixel stride (neighbouring crops overlap by half); flat crops (pixel standard
  deviation below 0.02: sky, the black border of a scan) are left out, and a photograph gives at most 1,000
  crops (evenly spaced in cut order) so the large scans do not dominate. 6,081 crops, 5,359 train / 722 test;
  split by photograph as above, so overlapping crops never straddle the split. `size` resizes the crops.

User sources:
- an image folder (searched recursively; any format PIL reads): files that are not readable images are skipped
  and counted (`strict=True` makes the first one an error). `train/` and `test/` subfolders give the split;
  otherwise a file is in the test split when the first byte of sha256(relative path) is below 26 (about 10%),
  so the split is stable when files are added. Images are resized (shorter side to `size`, bicubic with
  antialiasing) and center-cropped; without `size` they must all have the same size. Labels come from
  first-level class subfolders (ImageNet layout) when every image sits in one.
- an IDX file (`.gz` or raw; labels from a sibling `*-labels-idx1-ubyte*` file), or a folder holding the MNIST
  file names (`train-images-idx3-ubyte[.gz]`, `t10k-...`) which gives the official split.
- an `.npz` file with `x_train`/`x_test` (and `y_train`/`y_test`) arrays, or one `images`/`x` array (and
  `labels`/`y`); arrays are (N,H,W), (N,H,W,C) or (N,C,H,W), uint8 (0..255) or float in [0, 1].
For a single array without a split, item i is in the test split when i % 10 == 9.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tokbench.errors import TokbenchError
from tokbench.runs import sha256_file

BUILTIN_PREFIX = "builtin:"
SPLITS = ("train", "test", "all")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
#: scikit-image's bundled natural photographs (file names in skimage.data.data_dir); stereo twins and
#: mostly-empty scans are left out so the patches are varied.
PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "moon.png", "rocket.jpg",
          "hubble_deep_field.jpg", "ihc.png", "grass.png", "gravel.png", "brick.png", "motorcycle_left.png")
PHOTOS_TEST = ("chelsea.png", "coins.png", "gravel.png")
DEFAULT_PATCH = 32
#: builtin:photos64: crop side, stride, the scales each photograph is cut at, and the flatness cut-off
PHOTOS64 = (*PHOTOS, "retina.jpg")
CROP, CROP_STRIDE, CROP_SCALES, FLAT_STD, CROPS_PER_PHOTO = 64, 32, (1.0, 0.75, 0.5), 0.02, 1000
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HASH_TEST_BELOW = 26  # first sha256 byte < 26: about 10% of a folder goes to the test split
_ARRAY_TEST_EVERY = 10


# ---------------------------------------------------------------------------------------------- the result
@dataclass
class ImageSet:
    """Images as float32 (N, C, H, W) in [0, 1], their labels (or None), and where they came from."""

    images: np.ndarray
    labels: np.ndarray | None
    name: str
    files: list[tuple[str, Path]] = field(default_factory=list)  # (source, file) pairs read
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    _fingerprint: list[dict] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def fingerprint(self) -> list[dict]:
        """One entry per file read: {source, path, bytes, sha256}, as run.json records its data."""
        if self._fingerprint is None:
            self._fingerprint = [_file_fingerprint(src, path) for src, path in self.files]
        return self._fingerprint


def _file_fingerprint(source: str, path: Path) -> dict:
    return {"source": source, "path": str(path), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


# ---------------------------------------------------------------------------------------------- entry point
def load_images(spec: str, split: str = "train", size: int | None = None, channels: int | None = None,
                limit: int | None = None, strict: bool = False) -> ImageSet:
    """Load `split` of the image source `spec` as float32 (N, C, H, W) in [0, 1].

    `size` resizes (shorter side) and center-crops to size x size; `channels` (1 or 3) converts grey <-> RGB
    (RGB -> grey by ITU-R 601 luma, as PIL's "L" mode); `limit` keeps the first N images of the split.
    """
    if split not in SPLITS:
        raise TokbenchError(f"unknown split {split!r} (expected train or test)")
    if channels not in (None, 1, 3):
        raise TokbenchError(f"channels must be 1 or 3, not {channels}")
    if size is not None and size < 1:
        raise TokbenchError(f"image size must be positive, not {size}")
    if limit is not None and limit < 1:
        raise TokbenchError(f"limit must be positive, not {limit}")
    if spec.startswith(BUILTIN_PREFIX):
        key = spec[len(BUILTIN_PREFIX):]
        loader = _BUILTINS.get(key)
        if loader is None:
            raise TokbenchError(f"unknown image source {spec!r} (built-ins: "
                                f"{', '.join(BUILTIN_PREFIX + k for k in _BUILTINS)})")
        result = loader(split, size, channels, limit)
    else:
        path = Path(spec).expanduser()
        if not path.exists():
            raise TokbenchError(f"{spec}: no such file or folder")
        if not path.is_dir() and not path.is_file():  # a FIFO or device would block or never end
            raise TokbenchError(f"{spec}: not a regular file or folder")
        if path.is_dir():
            if _mnist_layout(path) is not None:
                result = _load_mnist_dir(path, split, size, channels, limit, name=f"{spec}/{split}")
            else:
                result = _load_folder(path, split, size, channels, limit, strict)
        elif path.suffix == ".npz":
            result = _load_npz(path, split, size, channels, limit)
        elif _looks_idx(path):
            result = _load_idx_file(path, split, size, channels, limit)
        else:
            raise TokbenchError(f"{spec}: not an image folder, IDX file or .npz file")
    if len(result) == 0:
        raise TokbenchError(f"{spec}: no images in the {split} split")
    return result


# ---------------------------------------------------------------------------------------------- array helpers
def to_float(arr: np.ndarray, what: str) -> np.ndarray:
    """uint8 -> /255; floats must already lie in [0, 1]; other integers must fit 0..255."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if out.size and not np.isfinite(out).all():
            raise TokbenchError(f"{what}: images contain NaN or infinity")
        if out.size and (out.min() < 0.0 or out.max() > 1.0):
            raise TokbenchError(f"{what}: float images must lie in [0, 1] (found {out.min():g}..{out.max():g})")
        return out
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise TokbenchError(f"{what}: integer images must lie in 0..255")
        return arr.astype(np.float32) / np.float32(255.0)
    raise TokbenchError(f"{what}: unsupported image dtype {arr.dtype}")


def _to_nchw(arr: np.ndarray, what: str) -> np.ndarray:
    """(N,H,W) -> (N,1,H,W); channels-last (N,H,W,C) with C in 1/3/4 -> (N,C,H,W); (N,C,H,W) kept."""
    if arr.ndim == 3:
        return arr[:, None]
    if arr.ndim == 4:
        if arr.shape[-1] in (1, 3, 4) and arr.shape[1] not in (1, 3, 4):
            return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
        if arr.shape[1] in (1, 3, 4):
            return arr
        if arr.shape[-1] in (1, 3, 4):
            return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
    raise TokbenchError(f"{what}: expected images shaped (N,H,W), (N,H,W,C) or (N,C,H,W), got {arr.shape}")


def convert_channels(images: np.ndarray, channels: int | None) -> np.ndarray:
    """(N,C,H,W) float: drop alpha; grey -> RGB by repetition; RGB -> grey by ITU-R 601 luma."""
    c = images.shape[1]
    if c == 4:
        images, c = images[:, :3], 3
    if c == 2:
        images, c = images[:, :1], 1  # grey + alpha
    if c not in (1, 3):
        raise TokbenchError(f"images with {c} channels are not supported (expected 1 or 3)")
    if channels is None or channels == c:
        return np.ascontiguousarray(images, dtype=np.float32)
    if channels == 3:
        return np.ascontiguousarray(np.repeat(images, 3, axis=1), dtype=np.float32)
    luma = np.tensordot(np.array([0.299, 0.587, 0.114], dtype=np.float32), images, axes=([0], [1]))
    return np.ascontiguousarray(luma[:, None], dtype=np.float32)


def _fit_image(img, size: int):
    """Resize a PIL image so its shorter side is `size` (bicubic, antialiased), then center-crop."""
    from PIL import Image

    w, h = img.size
    if (w, h) != (size, size):
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return img


def resize_array(images: np.ndarray, size: int | None) -> np.ndarray:
    """Resize + center-crop (N,C,H,W) float images to size x size, channel by channel through PIL."""
    if size is None or images.shape[2:] == (size, size):
        return images
    from PIL import Image

    out = np.empty((images.shape[0], images.shape[1], size, size), dtype=np.float32)
    for i in range(images.shape[0]):
        for c in range(images.shape[1]):
            plane = Image.fromarray(images[i, c].astype(np.float32), mode="F")
            out[i, c] = np.asarray(_fit_image(plane, size), dtype=np.float32)
    return np.clip(out, 0.0, 1.0, out=out)


def _finish(images: np.ndarray, labels: np.ndarray | None, size: int | None, channels: int | None,
            limit: int | None, name: str, files: list[tuple[str, Path]], **extra: Any) -> ImageSet:
    if limit is not None:
        images = images[:limit]
        labels = labels[:limit] if labels is not None else None
    images = convert_channels(resize_array(images, size), channels)
    return ImageSet(images=images, labels=None if labels is None else np.asarray(labels, dtype=np.int64),
                    name=name, files=files, **extra)


def _array_split(n: int, split: str) -> np.ndarray:
    idx = np.arange(n)
    if split == "all":
        return idx
    is_test = idx % _ARRAY_TEST_EVERY == _ARRAY_TEST_EVERY - 1
    return idx[is_test] if split == "test" else idx[~is_test]


# ---------------------------------------------------------------------------------------------- IDX
def _open_maybe_gz(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TokbenchError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise TokbenchError(f"{path}: corrupt gzip data ({exc})") from None
    return raw


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Parse the IDX format (LeCun's MNIST files): 2 zero bytes, a dtype byte, a rank byte, big-endian
    uint32 dimensions, then the values row-major."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise TokbenchError(f"{what}: not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise TokbenchError(f"{what}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise TokbenchError(f"{what}: IDX header says {dims} but the file holds {len(data) - header} bytes of data")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    return parse_idx(_open_maybe_gz(path), str(path))


def _looks_idx(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(4)
        except (OSError, EOFError):
            return False
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_DTYPES and head[3] > 0


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _mnist_layout(folder: Path) -> dict[str, tuple[Path, Path | None]] | None:
    found = {}
    for split, (img_stem, lab_stem) in MNIST_FILES.items():
        img = _find(folder, img_stem)
        if img is not None:
            found[split] = (img, _find(folder, lab_stem))
    return found or None


def _load_idx_pair(img_path: Path, lab_path: Path | None, source: str) -> tuple[np.ndarray, np.ndarray | None,
                                                                                 list[tuple[str, Path]]]:
    images = _to_nchw(read_idx(img_path), str(img_path))
    files = [(source, img_path)]
    labels = None
    if lab_path is not None:
        labels = read_idx(lab_path)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise TokbenchError(f"{lab_path}: {labels.shape[0]} labels for {images.shape[0]} images")
        files.append((source, lab_path))
    return images, labels, files


def _load_mnist_dir(folder: Path, split: str, size, channels, limit, name: str,
                    source: str | None = None) -> ImageSet:
    layout = _mnist_layout(folder) or {}
    parts = ["train", "test"] if split == "all" else [split]
    imgs, labs, files = [], [], []
    for part in parts:
        if part not in layout:
            raise TokbenchError(f"{folder}: no {MNIST_FILES[part][0]}[.gz] for the {part} split")
        img_path, lab_path = layout[part]
        images, labels, f = _load_idx_pair(img_path, lab_path, source or str(folder))
        imgs.append(images)
        labs.append(labels)
        files += f
    images = np.concatenate(imgs) if len(imgs) > 1 else imgs[0]
    labels = None if any(lab is None for lab in labs) else np.concatenate(labs)
    if limit is not None:  # before the float conversion: 60,000 images need not all be converted
        images, labels = images[:limit], None if labels is None else labels[:limit]
    return _finish(to_float(images, str(folder)), labels, size, channels, None, name, files)


def _load_idx_file(path: Path, split: str, size, channels, limit) -> ImageSet:
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    lab_path = None
    if "-images-" in stem:
        lab_stem = stem.replace("-images-", "-labels-").replace("idx3", "idx1")
        lab_path = _find(path.parent, lab_stem)
    images, labels, files = _load_idx_pair(path, lab_path, str(path))
    idx = _array_split(images.shape[0], split)
    if limit is not None:
        idx = idx[:limit]
    return _finish(to_float(images[idx], str(path)), None if labels is None else labels[idx], size, channels,
                   None, f"{path}/{split}", files)


# ---------------------------------------------------------------------------------------------- npz
_NPZ_IMAGE_KEYS = ("images", "x", "X", "arr_0")
_NPZ_LABEL_KEYS = ("labels", "y", "Y", "arr_1")


def _load_npz(path: Path, split: str, size, channels, limit) -> ImageSet:
    import zipfile

    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # EOFError: an empty file
        raise TokbenchError(f"{path}: not a readable .npz file ({str(exc) or type(exc).__name__})") from None
    if not hasattr(archive, "files"):  # a bare .npy array under an .npz name
        raise TokbenchError(f"{path}: not a readable .npz file (a single .npy array, not an archive)")
    with archive:
        keys = set(archive.files)
        if {"x_train", "x_test"} <= keys:
            parts = ["train", "test"] if split == "all" else [split]
            images = np.concatenate([archive[f"x_{p}"] for p in parts])
            labels = (np.concatenate([archive[f"y_{p}"] for p in parts])
                      if all(f"y_{p}" in keys for p in parts) else None)
            idx = np.arange(images.shape[0])
        else:
            img_key = next((k for k in _NPZ_IMAGE_KEYS if k in keys), None)
            if img_key is None:
                raise TokbenchError(f"{path}: no image array (expected x_train/x_test or one of "
                                    f"{', '.join(_NPZ_IMAGE_KEYS)}; found {', '.join(sorted(keys)) or 'nothing'})")
            images = archive[img_key]
            lab_key = next((k for k in _NPZ_LABEL_KEYS if k in keys and k != img_key), None)
            labels = archive[lab_key] if lab_key else None
            idx = _array_split(images.shape[0], split)
    if labels is not None and (labels.ndim != 1 or labels.shape[0] != images.shape[0]):
        raise TokbenchError(f"{path}: {labels.shape} labels do not match {images.shape[0]} images")
    if limit is not None:
        idx = idx[:limit]
    images = _to_nchw(images[idx], str(path))
    return _finish(to_float(images, str(path)), None if labels is None else labels[idx], size, channels, None,
                   f"{path}/{split}", [(str(path), path)])


# ---------------------------------------------------------------------------------------------- folders
def _folder_files(folder: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                out.append(Path(root) / name)
    return out


def _path_is_test(rel: str) -> bool:
    return hashlib.sha256(rel.encode("utf-8")).digest()[0] < _HASH_TEST_BELOW


def _open_image(path: Path):
    """The decoded PIL image, or None when the file is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _image_channels(img) -> int:
    return 1 if img.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F") else 3


def _to_plane_array(img, channels: int) -> np.ndarray:
    """A PIL image as float32 (C, H, W) in [0, 1]."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L"):
        arr = np.asarray(img, dtype=np.float32)
        arr = arr / (65535.0 if arr.max() > 255 else 255.0)
        arr = arr[None]
        return np.repeat(arr, 3, axis=0) if channels == 3 else arr
    if img.mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0, 1)[None]
        return np.repeat(arr, 3, axis=0) if channels == 3 else arr
    img = img.convert("L" if channels == 1 else "RGB")
    arr = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _load_folder(folder: Path, split: str, size, channels, limit, strict: bool) -> ImageSet:
    files = _folder_files(folder)
    top = {p.relative_to(folder).parts[0] for p in files if len(p.relative_to(folder).parts) > 1}
    has_split_dirs = {"train", "test"} <= top
    chosen: list[tuple[Path, Path]] = []  # (file, path relative to the split root)
    for path in files:
        rel = path.relative_to(folder)
        if has_split_dirs:
            if rel.parts[0] not in ("train", "test"):
                continue
            if split != "all" and rel.parts[0] != split:
                continue
            chosen.append((path, Path(*rel.parts[1:])))
        else:
            if split != "all" and _path_is_test(rel.as_posix()) != (split == "test"):
                continue
            chosen.append((path, rel))
    decoded, skipped, examples = [], 0, []
    for path, rel in chosen:
        if limit is not None and len(decoded) >= limit:
            break
        img = _open_image(path)
        if img is None:
            if strict:
                raise TokbenchError(f"{path}: not a readable image (drop --strict to skip such files)")
            skipped += 1
            if len(examples) < 5:
                examples.append(str(path.relative_to(folder)))
            continue
        decoded.append((path, rel, img))
    if not decoded:
        raise TokbenchError(f"{folder}: no readable images in the {split} split"
                            + (f" ({skipped} unreadable files skipped)" if skipped else ""))
    n_ch = channels or (1 if all(_image_channels(img) == 1 for _, _, img in decoded) else 3)
    if size is None:
        sizes = {img.size for _, _, img in decoded}
        if len(sizes) > 1:
            shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:4])
            raise TokbenchError(f"{folder}: images differ in size ({shown}, ...); pass a size to resize them")
    arrays = []
    for _, _, img in decoded:
        if size is not None:
            img = _fit_image(img if img.mode not in ("P", "1", "LA", "RGBA", "CMYK", "YCbCr")
                             else img.convert("L" if n_ch == 1 else "RGB"), size)
        arrays.append(_to_plane_array(img, n_ch))
    images = np.stack(arrays).astype(np.float32)
    labels = None
    class_names = [rel.parts[0] for _, rel, _ in decoded if len(rel.parts) > 1]
    if len(class_names) == len(decoded):
        vocab = {c: i for i, c in enumerate(sorted(set(class_names)))}
        labels = np.array([vocab[c] for c in class_names], dtype=np.int64)
    return ImageSet(images=images, labels=labels, name=f"{folder}/{split}", files=[(str(folder), folder)],
                    skipped=skipped, skipped_examples=examples,
                    _fingerprint=_folder_fingerprint(folder, [p for p, _, _ in decoded]))


def _folder_fingerprint(folder: Path, paths: list[Path]) -> list[dict]:
    """A folder is recorded as one entry: total bytes and the sha256 of its (relative path, file sha256) list."""
    manifest = hashlib.sha256()
    total = 0
    for path in paths:
        entry = _file_fingerprint(str(folder), path)
        total += entry["bytes"]
        manifest.update(f"{path.relative_to(folder).as_posix()}\t{entry['sha256']}\n".encode("utf-8"))
    return [{"source": str(folder), "path": str(folder), "bytes": total, "sha256": manifest.hexdigest(),
             "files": len(paths)}]


def read_image_files(source: str | os.PathLike, size: int, channels: int) -> tuple[np.ndarray, list[str]]:
    """One image file, or every readable image under a folder (recursively, sorted), each resized (shorter side
    to `size`, bicubic) and center-cropped, as float32 (N, C, size, size) in [0, 1], with each image's path
    relative to `source` (its file name for a single file). Unreadable files in a folder are skipped; a single
    unreadable file, or a folder without any image, is an error."""
    root = Path(source).expanduser()
    if not root.exists():
        raise TokbenchError(f"{source}: no such file or folder")
    if root.is_dir():
        paths = _folder_files(root)
    elif root.is_file():
        paths = [root]
    else:
        raise TokbenchError(f"{source}: not a regular file or folder")
    arrays, names = [], []
    for path in paths:
        img = _open_image(path)
        if img is None:
            if root.is_file():
                raise TokbenchError(f"{source}: not a readable image")
            continue
        if img.mode in ("P", "1", "LA", "RGBA", "CMYK", "YCbCr"):
            img = img.convert("L" if channels == 1 else "RGB")
        arrays.append(_to_plane_array(_fit_image(img, size), channels))
        names.append(path.name if root.is_file() else path.relative_to(root).as_posix())
    if not arrays:
        raise TokbenchError(f"{source}: no readable images in this folder")
    return np.stack(arrays).astype(np.float32), names


# ---------------------------------------------------------------------------------------------- built-ins
def _fashion_mnist(split: str, size, channels, limit) -> ImageSet:
    if _mnist_layout(FASHION_MNIST_DIR) is None:
        raise TokbenchError(f"builtin:fashion-mnist needs Debian's dataset package ({FASHION_MNIST_DIR} is "
                            "missing): apt-get install dataset-fashion-mnist")
    return _load_mnist_dir(FASHION_MNIST_DIR, split, size, channels, limit,
                           name=f"builtin:fashion-mnist/{split}", source="builtin:fashion-mnist")


def _digits(split: str, size, channels, limit) -> ImageSet:
    try:
        from sklearn import datasets
    except ImportError:
        raise TokbenchError("builtin:digits needs scikit-learn: pip install 'tokbench[visual]'") from None
    bunch = datasets.load_digits()
    images = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None]
    labels = bunch.target.astype(np.int64)
    idx = np.arange(images.shape[0])
    if split != "all":
        is_test = idx % 5 == 4
        idx = idx[is_test] if split == "test" else idx[~is_test]
    data_file = Path(datasets.__file__).parent / "data" / "digits.csv.gz"
    files = [("builtin:digits", data_file)] if data_file.is_file() else []
    return _finish(images[idx], labels[idx], size, channels, limit, f"builtin:digits/{split}", files)


def _photos_dir() -> Path:
    try:
        import skimage.data
    except ImportError:
        raise TokbenchError("builtin:photos needs scikit-image: pip install 'tokbench[visual]'") from None
    return Path(skimage.data.__file__).parent


def _photos(split: str, size, channels, limit) -> ImageSet:
    patch = size or DEFAULT_PATCH
    n_ch = channels or 3
    folder = _photos_dir()
    names = [n for n in PHOTOS if split == "all" or (n in PHOTOS_TEST) == (split == "test")]
    patches, labels, files = [], [], []
    for label, name in enumerate(PHOTOS):
        if name not in names:
            continue
        path = folder / name
        img = _open_image(path)
        if img is None:
            raise TokbenchError(f"builtin:photos: scikit-image's {name} is missing or unreadable at {path}")
        files.append(("builtin:photos", path))
        arr = _to_plane_array(img, n_ch)
        _, h, w = arr.shape
        for y in range(0, h - patch + 1, patch):
            for x in range(0, w - patch + 1, patch):
                patches.append(arr[:, y:y + patch, x:x + patch])
                labels.append(label)
        if limit is not None and len(patches) >= limit:
            break
    if not patches:
        raise TokbenchError(f"builtin:photos: patch size {patch} is larger than every photograph")
    images = np.stack(patches).astype(np.float32)
    return _finish(images, np.array(labels), None, None, limit, f"builtin:photos/{split}", files)


def _photos64(split: str, size, channels, limit) -> ImageSet:
    from PIL import Image

    folder = _photos_dir()
    crops, labels, files = [], [], []
    for label, name in enumerate(PHOTOS64):
        if split != "all" and (name in PHOTOS_TEST) != (split == "test"):
            continue
        path = folder / name
        img = _open_image(path)
        if img is None:
            raise TokbenchError(f"builtin:photos64: scikit-image's {name} is missing or unreadable at {path}")
        files.append(("builtin:photos64", path))
        img = img.convert("RGB")
        own: list[np.ndarray] = []
        for scale in CROP_SCALES:
            w, h = round(img.size[0] * scale), round(img.size[1] * scale)
            arr = _to_plane_array(img if scale == 1.0 else img.resize((w, h), Image.BICUBIC), 3)
            for y in range(0, h - CROP + 1, CROP_STRIDE):
                for x in range(0, w - CROP + 1, CROP_STRIDE):
                    crop = arr[:, y:y + CROP, x:x + CROP]
                    if crop.std() >= FLAT_STD:
                        own.append(crop)
        keep = np.linspace(0, len(own) - 1, min(len(own), CROPS_PER_PHOTO)).round().astype(int)
        crops += [own[i] for i in keep]
        labels += [label] * len(keep)
        if limit is not None and len(crops) >= limit:
            break
    images = np.stack(crops).astype(np.float32)
    return _finish(images, np.array(labels), size, channels, limit, f"builtin:photos64/{split}", files)


_BUILTINS = {"fashion-mnist": _fashion_mnist, "digits": _digits, "photos": _photos, "photos64": _photos64}
