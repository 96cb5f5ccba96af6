"""The cache of derived data (core/cache.py): made once, read back equal, remade when its key changes, and a
folder that cannot be written only costs the time. The MNIST renderings that every CNN run's saving needs use it."""

import numpy as np

from core import cache
from core.mnist import photos


def _counting(value):
    calls = []

    def make():
        calls.append(1)
        return value
    return make, calls


def test_an_array_is_made_once_and_read_back_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("NN_PLAYGROUND_CACHE", str(tmp_path / "cache"))
    make, calls = _counting(np.arange(12, dtype="float32").reshape(3, 4))
    first = cache.cached_array("k-1", make)
    again = cache.cached_array("k-1", make)
    assert len(calls) == 1 and again.dtype == np.float32 and np.array_equal(first, again)
    cache.cached_array("k-2", make)  # another key: made again
    assert len(calls) == 2 and sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["k-1.npy", "k-2.npy"]


def test_a_corrupt_entry_is_remade_and_an_unwritable_folder_only_costs_time(tmp_path, monkeypatch):
    monkeypatch.setenv("NN_PLAYGROUND_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "k.npy").write_bytes(b"not an array")
    make, calls = _counting(np.ones(3))
    assert np.array_equal(cache.cached_array("k", make), np.ones(3)) and len(calls) == 1
    assert np.array_equal(np.load(tmp_path / "cache" / "k.npy"), np.ones(3))
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("NN_PLAYGROUND_CACHE", str(blocked / "cache"))  # under a file: cannot be made
    assert np.array_equal(cache.cached_array("k", make), np.ones(3)) and len(calls) == 2


def test_the_source_hash_follows_the_code(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("x = 1\n")
    before = cache.source_hash(f)
    f.write_text("x = 2\n")
    assert cache.source_hash(f) != before


def test_renderings_come_back_from_disk_in_a_fresh_process_equal(tmp_path, monkeypatch):
    monkeypatch.setenv("NN_PLAYGROUND_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    digits = np.zeros((4, 28, 28), "uint8")
    digits[:, 6:22, 10:18] = rng.integers(150, 256, (4, 16, 8))  # a bar of ink: a "1"
    made = photos.rendered_once(digits, "drawn")
    assert np.array_equal(made, photos.as_drawn(digits))
    monkeypatch.setattr(photos, "RENDERINGS", {})  # a fresh process's memory, and no way to render again
    monkeypatch.setattr(photos, "_RENDERED", {})
    assert np.array_equal(photos.rendered_once(digits, "drawn"), made)
