"""Tests of the torch-free .pth reader: round trips, the real english_g2 file, hostile input."""
import collections
import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pth_fixtures import Call, Storage, Tensor, checkpoint_members, dump_pickle, tensor, write_checkpoint, write_zip
from tinycrnn.convert import pth
from tinycrnn.convert.pth import read_pth, strip_prefix
from tinycrnn.errors import UnsafeCheckpointError, WeightFormatError

REAL_PTH = Path("/work/shared/models/english_g2.pth")

#: Element offsets of each BiLSTM's 8 views in its flat storage (english_g2.md section 2).
LSTM_OFFSETS = {
    "weight_ih_l0": (0, (1024, 256)), "weight_hh_l0": (262144, (1024, 256)),
    "weight_ih_l0_reverse": (524288, (1024, 256)), "weight_hh_l0_reverse": (786432, (1024, 256)),
    "bias_ih_l0": (1048576, (1024,)), "bias_hh_l0": (1049600, (1024,)),
    "bias_ih_l0_reverse": (1050624, (1024,)), "bias_hh_l0_reverse": (1051648, (1024,)),
}


def small_state():
    """A miniature english_g2: a conv weight, one LSTM-like shared storage, an int64 scalar."""
    rng = np.random.default_rng(0)
    flat = Storage(rng.standard_normal(4 * 3 + 4 * 2 + 4 + 4).astype(np.float32), "140001")
    return collections.OrderedDict([
        ("module.conv.weight", tensor(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), "140000")),
        ("module.rnn.weight_ih_l0", Tensor(flat, 0, (4, 3))),
        ("module.rnn.weight_hh_l0", Tensor(flat, 12, (4, 2))),
        ("module.rnn.bias_ih_l0", Tensor(flat, 20, (4,))),
        ("module.rnn.bias_hh_l0", Tensor(flat, 24, (4,))),
        ("module.bn.num_batches_tracked", tensor(np.array(200000, dtype=np.int64), "140002")),
    ])


def expected_of(t: Tensor) -> np.ndarray:
    flat = t.storage.data
    return np.lib.stride_tricks.as_strided(flat[t.offset:], t.shape, [s * flat.itemsize for s in t.stride]).copy()


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "small.pth"
    write_checkpoint(path, small_state())
    return path


def test_read_pth_roundtrips_shared_storage_views_exactly(ckpt):
    state = small_state()
    got = read_pth(ckpt)
    assert list(got) == list(state)
    for name, t in state.items():
        want = expected_of(t)
        assert got[name].dtype == want.dtype and got[name].shape == want.shape
        np.testing.assert_array_equal(got[name], want)
        assert got[name].flags.c_contiguous and got[name].flags.writeable
    flat = state["module.rnn.weight_ih_l0"].storage.data
    np.testing.assert_array_equal(got["module.rnn.weight_hh_l0"].ravel(), flat[12:20])
    assert got["module.bn.num_batches_tracked"].shape == () and got["module.bn.num_batches_tracked"] == 200000
    assert got["module.bn.num_batches_tracked"].dtype == np.int64


def test_read_pth_accepts_any_prefix_byteorder_and_location(tmp_path):
    path = tmp_path / "x.pth"
    write_checkpoint(path, small_state(), prefix="english_g2", location="cpu", byteorder="little")
    assert list(read_pth(path)) == list(small_state())


def test_read_pth_unwraps_state_dict_and_parameters(tmp_path):
    flat = Storage(np.arange(6, dtype=np.float64), "0")
    for wrapper in ("state_dict", "model"):
        path = tmp_path / f"{wrapper}.pth"
        write_checkpoint(path, {"epoch": 3, wrapper: {"w": Tensor(flat, 1, (2, 2), (1, 2), parameter=True)}})
        np.testing.assert_array_equal(read_pth(path)["w"], [[1, 3], [2, 4]])


def test_read_pth_widens_bfloat16(tmp_path):
    bits = np.array([0x3F80, 0xC000, 0x0000], dtype=np.uint16)  # 1.0, -2.0, 0.0
    write_checkpoint(tmp_path / "bf.pth", {"w": Tensor(Storage(bits, "0", "BFloat16Storage"), 0, (3,))})
    got = read_pth(tmp_path / "bf.pth")["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [1.0, -2.0, 0.0])


def test_strip_prefix_only_when_every_key_has_it():
    assert list(strip_prefix({"module.a": 1, "module.b": 2})) == ["a", "b"]
    assert list(strip_prefix({"module.a": 1, "b": 2})) == ["module.a", "b"]
    assert strip_prefix({}) == {}
    assert list(strip_prefix({"net.a": 1}, prefix="net.")) == ["a"]


@pytest.mark.skipif(not REAL_PTH.exists(), reason=f"{REAL_PTH} not present (shared model files not mounted)")
def test_read_pth_real_english_g2():
    state = read_pth(REAL_PTH)
    assert "torch" not in sys.modules
    assert len(state) == 44 and all(k.startswith("module.") for k in state)
    assert state["module.SequenceModeling.0.rnn.weight_hh_l0"].shape == (1024, 256)
    dtypes = collections.Counter(a.dtype.name for a in state.values())
    assert dtypes == {"float32": 42, "int64": 2}
    assert state["module.FeatureExtraction.ConvNet.12.num_batches_tracked"].shape == ()
    with zipfile.ZipFile(REAL_PTH) as zf:
        flats = [np.frombuffer(zf.read(i), "<f4") for i in zf.infolist() if i.file_size == 1052672 * 4]
    assert len(flats) == 2
    for block in ("0", "1"):
        names = {k: state[f"module.SequenceModeling.{block}.rnn.{k}"] for k in LSTM_OFFSETS}
        flat = next(f for f in flats if np.array_equal(f[:262144], names["weight_ih_l0"].ravel()))
        for key, (offset, shape) in LSTM_OFFSETS.items():
            assert names[key].shape == shape
            np.testing.assert_array_equal(names[key].ravel(), flat[offset:offset + int(np.prod(shape))], err_msg=key)
    assert list(strip_prefix(state))[0] == "FeatureExtraction.ConvNet.0.weight"


# --- hostile and damaged input --------------------------------------------------------------

EVIL = [
    ("os", "system", lambda p: (f"touch {p}",)),
    ("posix", "system", lambda p: (f"touch {p}",)),
    ("builtins", "eval", lambda p: (f"open({str(p)!r}, 'w').close()",)),
    ("subprocess", "Popen", lambda p: (["touch", str(p)],)),
]


@pytest.mark.parametrize("module,name,args", EVIL, ids=[f"{m}.{n}" for m, n, _ in EVIL])
@pytest.mark.parametrize("placement", ["top_level", "inside_state_dict", "as_storage_type"])
def test_read_pth_refuses_code_execution(tmp_path, module, name, args, placement):
    sentinel = tmp_path / "pwned"
    payload = Call(module, name, *args(sentinel))
    state = small_state()
    if placement == "top_level":
        obj = payload
    elif placement == "inside_state_dict":
        state["module.evil"] = payload
        obj = state
    else:
        obj = {"w": Tensor(Storage(np.zeros(2, np.float32), "9"), 0, (2,))}
    members = checkpoint_members(obj)
    if placement == "as_storage_type":  # a persistent id naming the evil global instead of a storage type
        pkl = members["archive/data.pkl"]
        members["archive/data.pkl"] = pkl.replace(b"ctorch\nFloatStorage\n", f"c{module}\n{name}\n".encode())
    write_zip(tmp_path / "evil.pth", members)
    with pytest.raises(UnsafeCheckpointError, match=rf"{module}\.{name}"):
        read_pth(tmp_path / "evil.pth")
    assert not sentinel.exists()


def test_evil_payload_is_live_under_plain_pickle(tmp_path):
    """Control: the payload above really runs under pickle.loads, so its refusal means something."""
    sentinel = tmp_path / "pwned"
    pickle.loads(dump_pickle(Call("builtins", "eval", f"open({str(sentinel)!r}, 'w').close()"))[0])
    assert sentinel.exists()


def test_read_pth_truncated_at_every_byte_is_a_format_error(ckpt, tmp_path):
    data = ckpt.read_bytes()
    cut = tmp_path / "cut.pth"
    for n in range(len(data)):
        cut.write_bytes(data[:n])
        with pytest.raises(WeightFormatError):
            read_pth(cut)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4))
def test_read_pth_corrupted_bytes_never_escape_as_other_errors(ckpt, tmp_path, flips):
    data = bytearray(ckpt.read_bytes())
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    bad = tmp_path / "flipped.pth"
    bad.write_bytes(bytes(data))
    try:
        read_pth(bad)
    except WeightFormatError:
        pass


def test_read_pth_rejects_non_zip_and_legacy(tmp_path):
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(WeightFormatError, match="text.pth: not a zip"):
        read_pth(tmp_path / "text.pth")
    (tmp_path / "legacy.pth").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(WeightFormatError, match="legacy"):
        read_pth(tmp_path / "legacy.pth")
    with pytest.raises(FileNotFoundError):
        read_pth(tmp_path / "missing.pth")


def _members_with(edit):
    members = checkpoint_members(small_state())
    edit(members)
    return members


BROKEN = {
    "no data.pkl": (lambda m: m.pop("archive/data.pkl"), "data.pkl"),
    "two data.pkl": (lambda m: m.update({"other/data.pkl": m["archive/data.pkl"]}), "found 2"),
    "missing storage": (lambda m: m.pop("archive/data/140001"), "no member 'archive/data/140001'"),
    "short storage": (lambda m: m.update({"archive/data/140001": m["archive/data/140001"][:-4]}), "holds 108 bytes"),
    "big-endian": (lambda m: m.update({"archive/byteorder": b"big"}), "byteorder is 'big'"),
    "bad opcode": (lambda m: m.update({"archive/data.pkl": m["archive/data.pkl"][:40] + b"\xff"}), "not a valid"),
    "cut pickle": (lambda m: m.update({"archive/data.pkl": m["archive/data.pkl"][:-30]}), "not a valid"),
    # the C unpickler would allocate these lengths before noticing the data is short
    "bytes8 bomb": (lambda m: m.update({"archive/data.pkl": b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"x."}),
                    "bytes8"),
    "memo bomb": (lambda m: m.update({"archive/data.pkl": b"\x80\x02Nr\xff\xff\xff\x7f."}), "memo index"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_read_pth_rejects_broken_archive(tmp_path, case):
    edit, message = BROKEN[case]
    write_zip(tmp_path / "b.pth", _members_with(edit))
    with pytest.raises(WeightFormatError, match=message) as info:
        read_pth(tmp_path / "b.pth")
    assert "b.pth" in str(info.value) and not isinstance(info.value, UnsafeCheckpointError)


@pytest.mark.parametrize("offset,shape,stride", [(1, (2, 3), None), (0, (7,), None), (0, (2, 2), (5, 1)),
                                                 (6, (0, 3), None), (-1, (2,), None), (0, (2,), (-1,))])
def test_read_pth_rejects_view_outside_storage(tmp_path, offset, shape, stride):
    storage = Storage(np.arange(6, dtype=np.float32), "0")
    state = {"ok": Tensor(storage, 0, (6,)), "bad.view": Tensor(storage, offset, shape, stride)}
    write_checkpoint(tmp_path / "v.pth", state)
    if (offset, shape) == (6, (0, 3)):  # an empty view at the very end is legal
        assert read_pth(tmp_path / "v.pth")["bad.view"].shape == (0, 3)
        return
    with pytest.raises(WeightFormatError, match="bad.view"):
        read_pth(tmp_path / "v.pth")


@pytest.mark.parametrize("obj,message", [
    ([1, 2], "holds a list"),
    ({"w": 3}, "entry 'w' is a int"),
    ({5: Tensor(Storage(np.zeros(1, np.float32), "0"), 0, (1,))}, "entry 5"),
    ({"w": Tensor(Storage(np.zeros(4, np.float32), "0", numel=4), 0, (2,)),
      "v": Tensor(Storage(np.zeros(4, np.float32), "0", numel=3), 0, (2,))}, "two different"),
])
def test_read_pth_rejects_non_state_dicts(tmp_path, obj, message):
    members = checkpoint_members(obj)
    write_zip(tmp_path / "o.pth", members)
    with pytest.raises(WeightFormatError, match=message):
        read_pth(tmp_path / "o.pth")


def test_read_pth_refuses_oversized_member_before_reading(ckpt, monkeypatch):
    monkeypatch.setattr(pth, "MAX_MEMBER_BYTES", 64)
    with pytest.raises(WeightFormatError, match="limit"):
        read_pth(ckpt)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd to count open files")
def test_read_pth_closes_its_file_on_every_path(ckpt, tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"PK\x03\x04junk")
    write_zip(tmp_path / "evil.pth", checkpoint_members(Call("os", "system", "true")))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        read_pth(ckpt)
        for bad in ("junk.pth", "evil.pth"):
            with pytest.raises(WeightFormatError):
                read_pth(tmp_path / bad)
    assert len(os.listdir("/proc/self/fd")) == before


# --- property: random views of random storages round-trip -----------------------------------

DTYPES = ["<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "i1", "u1", "?"]


@st.composite
def views(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=ndim, max_size=ndim)))
    order = draw(st.permutations(range(ndim)))  # lay the dims out in a random order, with gaps
    stride, step = [0] * ndim, 1
    for axis in reversed(order):
        stride[axis] = step
        step *= shape[axis] + draw(st.integers(0, 2))
    if ndim and draw(st.booleans()):
        stride[draw(st.integers(0, ndim - 1))] = 0  # an expanded (broadcast) dim
    return draw(st.integers(0, 5)), shape, tuple(stride)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dtype=st.sampled_from(DTYPES), specs=st.lists(views(), min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_read_pth_roundtrips_random_views(tmp_path, dtype, specs, seed):
    rng = np.random.default_rng(seed)
    extent = max(off + (0 if 0 in shape else 1 + sum((n - 1) * s for n, s in zip(shape, stride)))
                 for off, shape, stride in specs)
    numel = extent + int(rng.integers(0, 3))
    raw = rng.integers(0, 2 if dtype == "?" else 256, numel * np.dtype(dtype).itemsize, dtype=np.uint8)
    storage = Storage(raw.view(dtype), "7")
    state = {f"t{i}": Tensor(storage, off, shape, stride) for i, (off, shape, stride) in enumerate(specs)}
    state["own"] = tensor(raw[:3].view("u1"), "8")
    path = tmp_path / "prop.pth"
    write_checkpoint(path, state)
    got = read_pth(path)
    assert list(got) == list(state)
    for name, t in state.items():
        want = expected_of(t)
        assert got[name].shape == want.shape and got[name].dtype == want.dtype
        assert got[name].tobytes() == want.tobytes()
