"""mlfz.data: datasets, loaders and splits (properties over sizes and options), the IDX reader on
tiny files written here byte by byte (plain, gzipped, broken), and where Fashion-MNIST is looked
for. Nothing is downloaded: the one test of the download code hands it a fake server."""
import gzip
import io
import struct
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlfz
import mlfz.data as data
from mlfz.data import (ArrayDataset, DataLoader, FASHION_MNIST_CLASSES, Subset, load_digits,
                       load_fashion_mnist, parse_idx, random_split, read_idx)


@pytest.fixture(autouse=True)
def no_real_places(tmp_path, monkeypatch):
    "Keep every test away from the real cache and $MLFZ_DATA."
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFZ_DATA", raising=False)


def error(exception, f, *args, **kwargs):
    with pytest.raises(exception) as caught:
        f(*args, **kwargs)
    return str(caught.value)


class SampleBySample:
    "A dataset with only len() and single samples: the loader's general path."

    def __init__(self, *arrays):
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)


def numbered(n):
    "Inputs whose first entry is the sample's position, and labels that repeat it."
    X = np.arange(n * 3, dtype=np.float64).reshape(n, 3) / 3
    return X, np.arange(n)


# ArrayDataset

def test_array_dataset_samples_and_batches():
    X, y = numbered(5)
    ds = ArrayDataset(X, y)
    assert len(ds) == 5
    sample = ds[2]
    assert isinstance(sample, tuple) and len(sample) == 2
    np.testing.assert_array_equal(sample[0], X[2])
    assert sample[1] == 2
    assert ds[-1][1] == 4 and ds[np.int64(3)][1] == 3
    X_batch, y_batch = ds[np.array([4, 0, 0])]
    np.testing.assert_array_equal(X_batch, X[[4, 0, 0]])
    np.testing.assert_array_equal(y_batch, [4, 0, 0])
    assert len(ArrayDataset([[1, 2], [3, 4]])) == 2  # lists become arrays


def test_array_dataset_errors():
    message = error(ValueError, ArrayDataset, np.zeros((4, 2)), np.zeros(3), np.zeros(4))
    assert "array 0 has 4, array 1 has 3, array 2 has 4" in message
    assert "at least one array" in error(ValueError, ArrayDataset)
    assert "array 1 is 0-d" in error(ValueError, ArrayDataset, np.zeros(3), np.float64(1))
    ds = ArrayDataset(np.zeros(3))
    assert "ArrayDataset: index 3 is out of range for 3 samples" in error(IndexError, ds.__getitem__, 3)
    assert "index -4 is out of range" in error(IndexError, ds.__getitem__, -4)
    assert "index 7 is out of range" in error(IndexError, ds.__getitem__, np.array([0, 7]))
    for index in (1.0, True, np.array([True, False, True]), "0", np.array([0.5])):
        assert "indices must be integers" in error(TypeError, ds.__getitem__, index)


# DataLoader

@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_loader_batches_cover_the_epoch(n, batch_size, shuffle, drop_last, seed):
    X, y = numbered(n)
    loader = DataLoader(ArrayDataset(X, y), batch_size, shuffle, drop_last, seed)
    batches = list(loader)
    assert len(batches) == len(loader)
    assert len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    sizes = [len(yb) for Xb, yb in batches]
    assert all(size == batch_size for size in sizes[:-1])
    if drop_last and batches:
        assert sizes[-1] == batch_size
    for Xb, yb in batches:
        assert isinstance(Xb, np.ndarray) and Xb.shape == (len(yb), 3)
        np.testing.assert_array_equal(Xb, X[yb])  # inputs and labels stay paired
    seen = np.concatenate([yb for Xb, yb in batches]) if batches else np.array([], int)
    assert len(set(seen)) == len(seen)  # no sample twice
    if drop_last:
        assert len(seen) == n - n % batch_size
    else:
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))  # every sample once
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 30), batch_size=st.integers(1, 8), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 1000))
def test_fast_path_and_sample_by_sample_agree(n, batch_size, shuffle, drop_last, seed):
    X, y = numbered(n)
    datasets = [ArrayDataset(X, y), SampleBySample(X, y)]
    fast, slow = (DataLoader(ds, batch_size, shuffle, drop_last, seed) for ds in datasets)
    assert len(fast) == len(slow)
    for _ in range(2):  # two epochs
        for (X_fast, y_fast), (X_slow, y_slow) in zip(fast, slow, strict=True):
            np.testing.assert_array_equal(X_fast, X_slow)
            np.testing.assert_array_equal(y_fast, y_slow)
            assert X_fast.dtype == X_slow.dtype and y_fast.dtype == y_slow.dtype


def epoch(loader):
    return np.concatenate([batch[-1] for batch in loader])


def test_shuffle_is_new_each_epoch_and_reproducible():
    ds = ArrayDataset(*numbered(50))
    loader = DataLoader(ds, batch_size=7, shuffle=True, seed=5)
    epochs = [epoch(loader) for _ in range(3)]
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[1], epochs[2])
    again = DataLoader(ds, batch_size=7, shuffle=True, seed=5)
    for expected in epochs:
        np.testing.assert_array_equal(epoch(again), expected)
    other = DataLoader(ds, batch_size=7, shuffle=True, seed=6)
    assert not np.array_equal(epoch(other), epochs[0])


def test_unseeded_loader_follows_manual_seed():
    ds = ArrayDataset(*numbered(50))

    def run(seed):
        mlfz.manual_seed(seed)
        loader = DataLoader(ds, batch_size=8, shuffle=True)
        return np.concatenate([epoch(loader), epoch(loader)])

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))
    # the permutation is the library generator's next draw
    rng = mlfz.nn.tensor.core.generator()
    state = rng.bit_generator.state
    shuffled = epoch(DataLoader(ds, batch_size=8, shuffle=True))
    rng.bit_generator.state = state
    np.testing.assert_array_equal(shuffled, mlfz.nn.tensor.core.generator().permutation(50))


def test_loader_over_a_subset_uses_its_positions():
    X, y = numbered(20)
    part = Subset(ArrayDataset(X, y), np.array([7, 3, 19, 0]))
    Xb, yb = next(iter(DataLoader(part, batch_size=4)))
    np.testing.assert_array_equal(yb, [7, 3, 19, 0])
    np.testing.assert_array_equal(Xb, X[[7, 3, 19, 0]])
    inner = Subset(part, [3, 1])  # a Subset of a Subset
    assert [yb[0] for Xb, yb in DataLoader(inner)] == [0, 3]


def test_loader_errors():
    ds = ArrayDataset(np.zeros(4))
    for batch_size in (0, -3):
        assert f"batch_size must be a positive integer, got {batch_size}" in error(
            ValueError, DataLoader, ds, batch_size)
    for batch_size in (2.0, 2.5, "3", True, None):
        assert "DataLoader: batch_size must be a positive integer" in error(
            TypeError, DataLoader, ds, batch_size)
    assert "seed must be None or a non-negative integer, got -1" in error(
        ValueError, DataLoader, ds, shuffle=True, seed=-1)
    assert "seed must be None" in error(TypeError, DataLoader, ds, seed=1.5)
    assert "needs a dataset with len() and indexing, got int" in error(TypeError, DataLoader, 4)


def test_loader_names_bad_samples():
    class NotTuples(SampleBySample):
        def __getitem__(self, i):
            return self.arrays[0][i]

    class Ragged(SampleBySample):
        def __getitem__(self, i):
            return (np.zeros(i + 1),)

    assert "dataset[i] must return a tuple, got ndarray" in error(
        TypeError, list, DataLoader(NotTuples(np.zeros((3, 2))), batch_size=2))
    assert "field 0 of the samples in one batch has different shapes [(1,), (2,)]" in error(
        ValueError, list, DataLoader(Ragged(np.zeros(3)), batch_size=2))


def test_loader_epoch_over_60000_images():
    "The fast path: one fancy index per array, no per-sample stacking (shapes only, no timing)."
    X = np.zeros((60000, 28, 28), np.uint8)
    y = np.arange(60000)
    loader = DataLoader(ArrayDataset(X, y), batch_size=64, shuffle=True, seed=0)
    labels = epoch(loader)
    assert len(loader) == 938 and len(labels) == 60000
    np.testing.assert_array_equal(np.sort(labels), y)


# random_split and Subset

@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), pieces=st.integers(1, 5), seed=st.integers(0, 1000), data_=st.data())
def test_random_split_counts(n, pieces, seed, data_):
    cuts = sorted(data_.draw(st.lists(st.integers(0, n), min_size=pieces - 1,
                                      max_size=pieces - 1)))
    counts = list(np.diff([0, *cuts, n]))
    ds = ArrayDataset(*numbered(n))
    parts = random_split(ds, counts, seed=seed)
    assert [len(part) for part in parts] == counts
    positions = np.concatenate([part.indices for part in parts])
    np.testing.assert_array_equal(np.sort(positions), np.arange(n))  # disjoint and complete
    for part in parts:
        for k in range(len(part)):
            assert part[k][1] == part.indices[k]
    again = random_split(ds, counts, seed=seed)
    for a, b in zip(parts, again):
        np.testing.assert_array_equal(a.indices, b.indices)


@pytest.mark.parametrize("n, fractions, counts", [
    (10, [0.5, 0.5], [5, 5]),
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),  # floor gives 3, 3, 3; the left-over one goes first
    (1797, [0.8, 0.2], [1438, 359]),
    (7, [1.0, 0.0], [7, 0]),
    (5, [0.25, 0.25, 0.25, 0.25], [2, 1, 1, 1]),
    (3, [np.float32(0.5), np.float64(0.5)], [2, 1]),
])
def test_random_split_fractions(n, fractions, counts):
    parts = random_split(ArrayDataset(np.arange(n)), fractions, seed=0)
    assert [len(part) for part in parts] == counts
    np.testing.assert_array_equal(np.sort(np.concatenate([p.indices for p in parts])),
                                  np.arange(n))


def test_random_split_is_random_and_follows_manual_seed():
    ds = ArrayDataset(np.arange(100))
    first = random_split(ds, [50, 50], seed=0)[0].indices
    assert not np.array_equal(np.sort(first), np.arange(50))  # not the first half
    assert not np.array_equal(random_split(ds, [50, 50], seed=1)[0].indices, first)
    mlfz.manual_seed(7)
    a = random_split(ds, [0.5, 0.5])[0].indices
    mlfz.manual_seed(7)
    np.testing.assert_array_equal(random_split(ds, [0.5, 0.5])[0].indices, a)


def test_random_split_errors():
    ds = ArrayDataset(np.arange(10))
    assert "the counts [3, 3] must be non-negative and add up to the 10 samples" in error(
        ValueError, random_split, ds, [3, 3])
    assert "counts [12, -2]" in error(ValueError, random_split, ds, [12, -2])
    assert "fractions [0.5, 0.6] must be non-negative and add up to 1" in error(
        ValueError, random_split, ds, [0.5, 0.6])
    assert "fractions" in error(ValueError, random_split, ds, [1.5, -0.5])
    assert "fractions" in error(ValueError, random_split, ds, [float("nan"), 1.0])
    assert "all integers (counts) or all floats" in error(TypeError, random_split, ds, [5, 0.5])
    assert "all integers" in error(TypeError, random_split, ds, [True, 9])
    assert "lengths is empty" in error(ValueError, random_split, ds, [])
    assert "seed must be None" in error(ValueError, random_split, ds, [5, 5], seed=-2)


def test_subset():
    ds = ArrayDataset(np.arange(10) * 10)
    part = Subset(ds, [9, -1, 2])
    assert len(part) == 3 and [part[k][0] for k in range(3)] == [90, 90, 20]
    assert part[-1][0] == 20
    assert "Subset: index 3 is out of range for 3 samples" in error(IndexError, part.__getitem__, 3)
    assert "Subset: index 10 is out of range for 10 samples" in error(IndexError, Subset, ds, [10])
    assert "one-dimensional" in error(ValueError, Subset, ds, [[1, 2]])
    assert len(Subset(ds, [])) == 0


# load_digits

def test_load_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    np.testing.assert_array_equal(np.unique(X * 16), np.arange(17))  # divided by 16
    assert np.bincount(y).min() >= 170


def test_load_digits_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    message = error(ImportError, load_digits)
    assert "scikit-learn" in message and "pip install scikit-learn" in message


# IDX files, written by hand: two zero bytes, a type code, the number of dimensions,
# big-endian 4-byte sizes, big-endian data

def idx(array, code=0x08, big_endian_type=">u1"):
    return (struct.pack(">BBBB", 0, 0, code, array.ndim)
            + struct.pack(f">{array.ndim}I", *array.shape)
            + np.asarray(array).astype(big_endian_type).tobytes())


@pytest.mark.parametrize("code, big_endian_type", [
    (0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
@pytest.mark.parametrize("shape", [(0,), (5,), (2, 3), (2, 1, 4), ()])
def test_parse_idx_types_and_shapes(code, big_endian_type, shape):
    rng = np.random.default_rng(len(shape) + code)
    lowest = 0 if big_endian_type == ">u1" else -60
    values = rng.integers(lowest, lowest + 120, shape)
    if big_endian_type.startswith(">f"):
        values = values / 7
    values = values.astype(big_endian_type)
    array = parse_idx(idx(values, code, big_endian_type))
    assert array.shape == shape
    assert array.dtype == np.dtype(big_endian_type).newbyteorder("=")
    assert array.dtype.isnative
    np.testing.assert_array_equal(array, values.astype(big_endian_type))
    if array.size:
        array.flat[0] = 1  # a writable copy, not a view of the bytes


def test_parse_idx_reads_big_endian():
    data = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0xFE])
    np.testing.assert_array_equal(parse_idx(data), [256, -2])


@pytest.mark.parametrize("data, expected", [
    (b"", "truncated: 0 bytes, too short for the 4-byte IDX magic number"),
    (b"\x00\x00\x08", "truncated: 3 bytes"),
    (b"<!DOCTYPE html><html>", "not an IDX file: its magic number is 3c 21 44 4f"),
    (b"\x1f\x8b\x08\x00", "not an IDX file"),
    (b"\x00\x01\x08\x01\x00\x00\x00\x00", "not an IDX file: its magic number is 00 01 08 01"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x00", "its magic number is 00 00 07 01, expected 00 00, a type code"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00", "header of 16 bytes that 3 dimensions need"),
    (idx(np.zeros((2, 3)))[:-1], "truncated: sizes (2, 3) of 1-byte numbers need 6 bytes after the header, found 5"),
    (idx(np.zeros((2, 3))) + b"\x00", "too long: sizes (2, 3) of 1-byte numbers need 6 bytes after the header, found 7"),
    (idx(np.zeros(3), 0x0B, ">i2")[:-1], "truncated: sizes (3,) of 2-byte numbers need 6 bytes"),
])
def test_parse_idx_errors(data, expected):
    message = error(ValueError, parse_idx, data, "some-file-idx1-ubyte")
    assert message.startswith("some-file-idx1-ubyte: ") and expected in message


def test_read_idx_plain_gzipped_and_corrupt(tmp_path):
    values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "plain").write_bytes(idx(values))
    (tmp_path / "zipped.gz").write_bytes(gzip.compress(idx(values)))
    (tmp_path / "zipped-without-suffix").write_bytes(gzip.compress(idx(values)))
    (tmp_path / "plain-with-suffix.gz").write_bytes(idx(values))
    for name in ("plain", "zipped.gz", "zipped-without-suffix", "plain-with-suffix.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), values)
        np.testing.assert_array_equal(read_idx(str(tmp_path / name)), values)
    zipped = gzip.compress(idx(values))
    (tmp_path / "cut.gz").write_bytes(zipped[:len(zipped) // 2])
    assert f"{tmp_path / 'cut.gz'}: corrupt gzip data" in error(
        ValueError, read_idx, tmp_path / "cut.gz")
    flipped = bytearray(zipped)
    flipped[-8] ^= 0xFF  # the CRC of the content
    (tmp_path / "flipped.gz").write_bytes(bytes(flipped))
    assert "corrupt gzip data" in error(ValueError, read_idx, tmp_path / "flipped.gz")
    (tmp_path / "short").write_bytes(idx(values)[:-2])
    assert f"{tmp_path / 'short'}: truncated" in error(ValueError, read_idx, tmp_path / "short")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")


# Fashion-MNIST from a folder

NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def write_split(folder, split, n=4, gzipped=True, images=None, labels=None):
    "Tiny Fashion-MNIST files: n random images and labels; return them."
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8) if images is None else images
    labels = rng.integers(0, 10, n) if labels is None else labels
    for name, array in zip(NAMES[split], (images, labels)):
        content = idx(np.asarray(array))
        path = folder / (name + ".gz" if gzipped else name)
        path.write_bytes(gzip.compress(content) if gzipped else content)
    return images, labels


@pytest.fixture
def no_download(monkeypatch):
    "Make any download attempt fail loudly, and the Debian folder absent."
    def refuse(name, folder):
        raise OSError("downloads are switched off in the tests")
    monkeypatch.setattr(data, "_download", refuse)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", data.Path("/nonexistent/debian-folder"))


@pytest.mark.parametrize("gzipped", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_from_path(tmp_path, no_download, split, gzipped):
    images, labels = write_split(tmp_path, split, gzipped=gzipped)
    X, y = load_fashion_mnist(split, path=tmp_path)
    np.testing.assert_array_equal(X, images)
    np.testing.assert_array_equal(y, labels)
    assert X.dtype == np.uint8 and X.shape == (4, 28, 28)
    assert y.dtype == np.int64 and y.shape == (4,)
    X, y = load_fashion_mnist(split, path=str(tmp_path))
    np.testing.assert_array_equal(X, images)


def test_path_is_the_only_place_read(tmp_path, no_download, monkeypatch):
    write_split(tmp_path / "elsewhere", "train")
    monkeypatch.setenv("MLFZ_DATA", str(tmp_path / "elsewhere"))
    (tmp_path / "empty").mkdir()
    message = error(FileNotFoundError, load_fashion_mnist, "train", path=tmp_path / "empty")
    assert str(tmp_path / "empty") in message
    assert "no train-images-idx3-ubyte[.gz] or train-labels-idx1-ubyte[.gz]" in message
    assert "elsewhere" not in message and "download" not in message
    write_split(tmp_path / "half", "test")
    (tmp_path / "half" / "t10k-labels-idx1-ubyte.gz").unlink()
    message = error(FileNotFoundError, load_fashion_mnist, "test", path=tmp_path / "half")
    assert "(no t10k-labels-idx1-ubyte[.gz])" in message


def test_mixed_gzipped_and_plain_files(tmp_path, no_download):
    images, labels = write_split(tmp_path, "train", gzipped=True)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(np.asarray(labels)))
    X, y = load_fashion_mnist("train", path=tmp_path)
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("images, labels, expected", [
    (np.zeros((3, 28, 28)), np.zeros(2), "holds 3 images but"),
    (np.zeros((3, 28, 27)), np.zeros(3), "expected unsigned-byte images of shape (N, 28, 28), found uint8 of shape (3, 28, 27)"),
    (np.zeros((3, 784)), np.zeros(3), "of shape (3, 784)"),
    (np.zeros((3, 28, 28)), np.zeros((3, 1)), "expected unsigned-byte labels of shape (N,), found uint8 of shape (3, 1)"),
    (np.zeros((3, 28, 28)), np.array([0, 10, 2]), "label 10 is not one of the 10 classes"),
])
def test_load_refuses_what_is_not_fashion_mnist(tmp_path, no_download, images, labels, expected):
    write_split(tmp_path, "test", images=images, labels=labels)
    message = error(ValueError, load_fashion_mnist, "test", path=tmp_path)
    assert expected in message and str(tmp_path) in message


def test_load_refuses_other_types(tmp_path, no_download):
    write_split(tmp_path, "test", n=2)
    floats = np.zeros((2, 28, 28))
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(floats, 0x0D, ">f4")))
    assert "found float32 of shape (2, 28, 28)" in error(
        ValueError, load_fashion_mnist, "test", path=tmp_path)


def test_corrupt_file_is_named(tmp_path, no_download):
    write_split(tmp_path, "train")
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    assert f"{path}: corrupt gzip data" in error(ValueError, load_fashion_mnist, path=tmp_path)


def test_bad_split():
    assert "split must be 'train' or 'test', got 'validation'" in error(
        ValueError, load_fashion_mnist, "validation")


# Fashion-MNIST: the standard places, in order

def test_places_in_order(tmp_path, no_download, monkeypatch):
    cache = tmp_path / "home" / ".cache" / "mlfz"
    debian = tmp_path / "debian"
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", debian)
    cached, _ = write_split(cache, "train", n=1)
    assert np.array_equal(load_fashion_mnist()[0], cached)
    packaged, _ = write_split(debian, "train", n=2)
    assert np.array_equal(load_fashion_mnist()[0], packaged)  # before the cache
    mine, _ = write_split(tmp_path / "mine", "train", n=3)
    monkeypatch.setenv("MLFZ_DATA", str(tmp_path / "mine"))
    assert np.array_equal(load_fashion_mnist()[0], mine)  # before everything else
    images_path, labels_path = data.fashion_mnist_files("train")
    assert images_path == tmp_path / "mine" / "train-images-idx3-ubyte.gz"
    assert labels_path == tmp_path / "mine" / "train-labels-idx1-ubyte.gz"


def test_failure_names_every_place(tmp_path, no_download, monkeypatch):
    message = error(FileNotFoundError, load_fashion_mnist, "test")
    for place in ("$MLFZ_DATA (not set)", "/nonexistent/debian-folder",
                  str(tmp_path / "home" / ".cache" / "mlfz"), data.FASHION_MNIST_URL,
                  "downloads are switched off", "apt-get install dataset-fashion-mnist"):
        assert place in message, place
    monkeypatch.setenv("MLFZ_DATA", str(tmp_path / "mine"))
    message = error(FileNotFoundError, load_fashion_mnist, "test")
    assert str(tmp_path / "mine") in message and "not set" not in message


def test_download_is_atomic(tmp_path, monkeypatch):
    "The download code against a fake server: good files land, cut-off ones leave nothing."
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    rng = np.random.default_rng(0)
    files = {"t10k-images-idx3-ubyte.gz": gzip.compress(idx(rng.integers(0, 256, (2, 28, 28)))),
             "t10k-labels-idx1-ubyte.gz": gzip.compress(idx(np.array([3, 1])))}
    requested = []

    def fake_urlopen(url, timeout):
        requested.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(data.urllib.request, "urlopen", fake_urlopen)
    cache = tmp_path / "home" / ".cache" / "mlfz"
    good_labels = files["t10k-labels-idx1-ubyte.gz"]
    files["t10k-labels-idx1-ubyte.gz"] = good_labels[:len(good_labels) - 5]  # cut off
    message = error(FileNotFoundError, load_fashion_mnist, "test")
    assert "download failed" in message and "corrupt gzip data" in message
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz"]
    files["t10k-labels-idx1-ubyte.gz"] = good_labels
    requested.clear()
    X, y = load_fashion_mnist("test")
    assert requested == [f"{data.FASHION_MNIST_URL}/t10k-labels-idx1-ubyte.gz"]  # only what is missing
    assert X.shape == (2, 28, 28) and list(y) == [3, 1]
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                       "t10k-labels-idx1-ubyte.gz"]
    requested.clear()
    load_fashion_mnist("test")
    assert requested == []  # downloaded once


@pytest.mark.skipif(not data.DEBIAN_FASHION_MNIST.is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_package():
    X, y = load_fashion_mnist("test", path=data.DEBIAN_FASHION_MNIST)
    assert X.shape == (10000, 28, 28) and X.dtype == np.uint8
    assert y.dtype == np.int64 and (np.bincount(y) == 1000).all()
    assert len(FASHION_MNIST_CLASSES) == 10
