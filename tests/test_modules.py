"""mlfz.nn.modules against the contract (shared/API.md, "mlfz.nn"): registration and its order, the walks,
modes, state dicts and their errors, .npz files, repr, and the layers' values and gradients."""
import copy
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mlfz
from mlfz.gradcheck import gradient_check
from mlfz.graph import draw_graph
from mlfz.nn.modules import (Flatten, Linear, Module, Parameter, ReLU, Residual, Sequential, Sigmoid,
                             Tanh)
from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.loss import mean_squared_error

rng = np.random.default_rng(31)


class Leaf(Module):
    def __init__(self, n=1):
        super().__init__()
        self.w = Parameter(np.arange(1.0, n + 1))


class Mixed(Module):
    "Own parameters interleaved with children, a list, a tuple and a dict of members."
    def __init__(self):
        super().__init__()
        self.a = Parameter(np.zeros(2))
        self.child = Leaf()
        self.sizes = [3, 4]
        self.b = Parameter(np.zeros(3))
        self.items = [Leaf(), Parameter(np.ones(2))]
        self.pair = (Leaf(),)
        self.heads = {"left": Leaf(), "right": Leaf()}


def names(pairs):
    return [name for name, _ in pairs]


# registration and order

def test_parameter_is_a_leaf_tensor():
    p = Parameter([1.0, 2.0])
    assert isinstance(p, Tensor) and p.prevs == [] and p.dtype == np.float64
    assert type(Parameter(Tensor([1.0])) ) is Parameter
    assert type(pickle.loads(pickle.dumps(p))) is Parameter and type(copy.deepcopy(p)) is Parameter


def test_detaching_a_parameter_gives_a_plain_leaf_that_shares_its_value():
    p = Parameter([1.0, 2.0])
    p.name = "w"
    cut = p.detach()
    assert type(cut) is Tensor and cut.prevs == [] and cut.name == "w"
    assert np.shares_memory(cut.value, p.value)  # no copy
    (cut * p).sum().backward()
    np.testing.assert_array_equal(p.backwards_grad, cut.value)  # cut is a constant


def test_registration_order_is_pytorchs():
    m = Mixed()
    assert names(m.named_parameters()) == ["a", "b", "child.w", "items.0.w", "items.1", "pair.0.w",
                                           "heads.left.w", "heads.right.w"]
    assert names(m.named_children()) == ["child", "items.0", "pair.0", "heads.left", "heads.right"]
    assert names(m.named_modules()) == ["", "child", "items.0", "pair.0", "heads.left", "heads.right"]
    assert m.modules()[0] is m and m.children()[0] is m.child
    assert isinstance(m.parameters(), list) and all(isinstance(p, Parameter) for p in m.parameters())


def test_reassigning_keeps_the_place_and_a_list_is_read_at_every_call():
    m = Mixed()
    m.a = Parameter(np.ones(5))
    assert names(m.named_parameters())[0] == "a" and m.parameters()[0].shape == (5,)
    m.items.append(Leaf())
    assert "items.2.w" in names(m.named_parameters())
    del m.child
    assert "child.w" not in names(m.named_parameters())


def test_shared_parameters_and_modules_are_listed_once_under_the_first_name():
    layer = Linear(2, 2, rng=rng)
    model = Sequential(layer, ReLU(), layer)
    assert names(model.named_parameters()) == ["0.weight", "0.bias"]
    assert len(model.modules()) == 3 and len(model.children()) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # each name
    tied = Mixed()
    tied.tie = tied.a
    assert names(tied.named_parameters()).count("tie") == 0 and "tie" in tied.state_dict()


def test_dotted_names_are_given_at_registration_and_follow_the_owner():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.layers = Sequential(Linear(3, 4, rng=rng), ReLU(), Linear(4, 2, rng=rng))

    net = Net()
    assert [p.name for p in net.parameters()] == names(net.named_parameters()) == [
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    outer = Sequential(net)
    assert outer[0].layers[2].weight.name == "0.layers.2.weight"
    view = outer[0].layers[1:]  # a slice renames nothing
    assert view[1].weight.name == "0.layers.2.weight"
    source = draw_graph((net.layers(Tensor(np.ones((2, 3)))) ** 2).sum()).source
    assert "<b>0.layers.0.weight</b>" in source

    shared = Linear(2, 2, rng=rng)  # registered first in `encoder`: keeps that name
    model = Module()
    model.encoder = Sequential(shared)
    model.decoder = Sequential(ReLU(), shared)
    assert shared._name == "encoder.0" and shared.weight.name == "encoder.0.weight"
    assert model.decoder[0]._name == "decoder.0"
    assert names(model.named_parameters()) == ["encoder.0.weight", "encoder.0.bias"]
    with pytest.raises(ValueError, match=r"^encoder\.0 \(Linear 2→2\)"):
        model.decoder(np.ones(3))


def test_registration_refuses_what_would_register_in_part_or_vanish():
    m = Mixed()
    with pytest.raises(TypeError, match="'a' holds a Parameter.*ndarray.*a.value"):
        m.a = np.zeros(2)
    with pytest.raises(TypeError, match="'child' holds a Module"):
        m.child = 3
    with pytest.raises(TypeError, match="'bad' holds Modules or Parameters, but its item 1 is 3"):
        m.bad = [Leaf(), 3]
    with pytest.raises(TypeError, match="without dots"):
        m.bad = {"a.b": Leaf()}
    with pytest.raises(ValueError, match="itself"):
        m.me = m
    assert not hasattr(m, "bad") and isinstance(m.a, Parameter)
    m.child = None
    assert m.child is None and "child.w" not in names(m.named_parameters())

    class NoInit(Module):
        def __init__(self):
            self.plain = 3  # allowed, as in PyTorch
            self.w = Parameter(np.ones(1))

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        NoInit()
    with pytest.raises(NotImplementedError, match="forward"):
        Module()(1)


def test_zero_grad_train_and_eval():
    model = Sequential(Linear(2, 3, rng=rng), Sequential(Tanh(), Linear(3, 1, rng=rng)))
    mean_squared_error(model(np.ones((4, 2))), np.zeros((4, 1))).backward()
    assert all(p.backwards_grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.backwards_grad is None for p in model.parameters())
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    assert model.train(False) is model and not model[1][0].training
    with pytest.raises(TypeError, match="True or False"):
        model.train(1)


def test_repr_is_the_tree_of_submodules():
    model = Sequential(Linear(2, 3, rng=rng), ReLU(), Sequential(Flatten(), Linear(3, 1, bias=False)))
    assert repr(model) == """Sequential(
  (0): Linear(in_features=2, out_features=3, bias=True)
  (1): ReLU()
  (2): Sequential(
    (0): Flatten()
    (1): Linear(in_features=3, out_features=1, bias=False)
  )
)"""
    assert repr(Mixed()).splitlines()[1:3] == ["  (child): Leaf()", "  (items.0): Leaf()"]


# buffers

class Stats(Module):
    def __init__(self):
        super().__init__()
        self.scale = Parameter(np.ones(2))
        self.register_buffer("mean", np.zeros(2, dtype=np.float32))
        self.inner = Leaf()

    def forward(self, x):
        return x


def test_buffers_are_saved_but_not_trained():
    s = Stats()
    assert names(s.named_parameters()) == ["scale", "inner.w"]
    assert names(s.named_buffers()) == ["mean"] and s.buffers()[0] is s.mean
    assert list(s.state_dict()) == ["scale", "mean", "inner.w"]  # PyTorch's order
    s.mean = [1.0, 2.0]
    assert isinstance(s.mean, np.ndarray) and names(s.named_buffers()) == ["mean"]
    state = s.state_dict()
    state["mean"] = np.array([5.0, 6.0])
    s.load_state_dict(state)
    assert s.mean.dtype == np.float64 or s.mean.tolist() == [5.0, 6.0]
    np.testing.assert_array_equal(s.mean, [5.0, 6.0])
    with pytest.raises(TypeError, match="real numbers"):
        s.mean = "zeros"
    with pytest.raises(KeyError, match="already exists"):
        s.register_buffer("scale", np.zeros(2))
    with pytest.raises(KeyError, match="identifier"):
        s.register_buffer("a.b", np.zeros(2))


def test_a_loaded_buffer_keeps_its_dtype():
    s = Stats()
    s.register_buffer("count", np.zeros((), dtype=np.float32))
    s.load_state_dict(dict(s.state_dict(), count=np.float64(3.0)))
    assert s.count.dtype == np.float32 and s.count == 3.0


# state dicts

def test_state_dict_is_an_ordered_dict_of_copies():
    model = Sequential(Linear(3, 2, rng=rng), Stats())
    state = model.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state) == ["0.weight", "0.bias", "1.scale", "1.mean", "1.inner.w"]
    for name, array in state.items():
        assert isinstance(array, np.ndarray)
    assert not np.shares_memory(state["0.weight"], model[0].weight.value)
    state["0.weight"][0, 0] = 99.0  # the snapshot is writable and its own
    assert model[0].weight.value[0, 0] != 99.0


def test_load_state_dict_copies_into_the_existing_parameters():
    model = Sequential(Linear(3, 2, rng=rng), ReLU(), Linear(2, 1, rng=rng, dtype=np.float32))
    params = model.parameters()
    other = Sequential(Linear(3, 2, rng=rng), ReLU(), Linear(2, 1, rng=rng))
    result = model.load_state_dict(other.state_dict())
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    assert model.parameters() == params and all(a is b for a, b in zip(model.parameters(), params))
    np.testing.assert_array_equal(model[0].weight.value, other[0].weight.value)
    assert model[2].weight.dtype == np.float32  # kept
    state = other.state_dict()
    model.load_state_dict(state)
    assert not np.shares_memory(state["0.weight"], model[0].weight.value)


def test_a_graph_built_before_loading_is_refused():
    layer = Linear(2, 2, rng=rng)
    loss = layer(np.ones((3, 2))).sum()
    layer.load_state_dict(layer.state_dict())
    with pytest.raises(RuntimeError, match="changed after the graph"):
        loss.backward()


def assert_unchanged(model, before):
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_strict_missing_and_unexpected_keys_raise_naming_all_and_change_nothing():
    model = Sequential(Linear(3, 2, rng=rng), Linear(2, 2, rng=rng))
    before = model.state_dict()
    state = {k: v + 1 for k, v in before.items() if k not in ("0.bias", "1.weight")}
    state["2.weight"] = np.ones(2)
    state["extra"] = np.ones(1)
    with pytest.raises(KeyError) as error:
        model.load_state_dict(state)
    text = str(error.value)
    for key in ["0.bias", "1.weight", "2.weight", "extra"]:
        assert repr(key) in text
    assert "missing" in text and "unexpected" in text
    assert_unchanged(model, before)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["0.bias", "1.weight"] and unexpected == ["2.weight", "extra"]
    np.testing.assert_array_equal(model[0].weight.value, before["0.weight"] + 1)
    np.testing.assert_array_equal(model[0].bias.value, before["0.bias"])  # missing: kept


@pytest.mark.parametrize("strict", [True, False])
def test_a_shape_mismatch_names_the_key_and_both_shapes_and_changes_nothing(strict):
    model = Sequential(Linear(3, 2, rng=rng), Stats())
    before = model.state_dict()
    state = {k: v + 1 for k, v in before.items()}
    state["0.bias"] = np.zeros(3)
    state["1.mean"] = np.zeros((2, 1))
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state, strict=strict)
    text = str(error.value)
    assert "'0.bias' has shape (3,) in the state but (2,) in the model" in text
    assert "'1.mean' has shape (2, 1) in the state but (2,) in the model" in text
    assert_unchanged(model, before)


def test_entries_that_are_not_arrays_of_numbers_are_refused():
    layer = Linear(2, 2, rng=rng)
    before = layer.state_dict()
    with pytest.raises(TypeError, match="'bias' must be an array of real numbers"):
        layer.load_state_dict({"weight": before["weight"] + 1, "bias": "zeros"})
    assert_unchanged(layer, before)
    with pytest.raises(TypeError, match="mapping"):
        layer.load_state_dict([("weight", before["weight"])])
    layer.load_state_dict({"weight": Tensor(np.ones((2, 2))), "bias": [1, 2]})  # array-likes
    np.testing.assert_array_equal(layer.bias.value, [1.0, 2.0])


# files

def test_save_and_load_round_trip(tmp_path):
    model = Sequential(Linear(3, 4, rng=rng), Stats(), Linear(4, 2, rng=rng, dtype=np.float32))
    model[1].mean = np.array([0.5, 1.5], dtype=np.float32)
    model.save(tmp_path / "model")  # .npz appended
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        assert archive.files == list(model.state_dict())
        assert archive["2.weight"].dtype == np.float32
    other = Sequential(Linear(3, 4, rng=rng), Stats(), Linear(4, 2, rng=rng, dtype=np.float32))
    assert other.load(tmp_path / "model") == ([], [])
    assert other.load(str(tmp_path / "model.npz")) == ([], [])
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(other.state_dict()[name], array)
    x = np.ones((2, 3))
    np.testing.assert_array_equal(other(x).value, model(x).value)


def test_load_is_strict_and_never_unpickles(tmp_path):
    Linear(2, 3, rng=rng).save(tmp_path / "small.npz")
    with pytest.raises(ValueError, match=r"'weight' has shape \(2, 3\) in the state but \(3, 3\)"):
        Linear(3, 3, rng=rng).load(tmp_path / "small.npz")
    with pytest.raises(KeyError, match="bias"):
        Linear(2, 3, bias=False, rng=rng).load(tmp_path / "small.npz")
    assert Linear(2, 3, bias=False, rng=rng).load(tmp_path / "small.npz", strict=False) == ([], ["bias"])

    class Bomb:
        def __reduce__(self):
            return os.system, ("echo boom > " + str(tmp_path / "ran"),)

    np.savez(tmp_path / "evil.npz", weight=np.array([Bomb()], dtype=object), bias=np.zeros(3))
    with pytest.raises(ValueError, match="pickled object"):
        Linear(2, 3, rng=rng).load(tmp_path / "evil.npz")
    assert not (tmp_path / "ran").exists()
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a .npz file"):
        Linear(2, 3, rng=rng).load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError, match="load: cannot read"):
        Linear(2, 3, rng=rng).load(tmp_path / "nothing")


def test_saving_to_a_path_that_cannot_be_written_is_a_clear_error(tmp_path):
    model = Linear(2, 2, rng=rng)
    with pytest.raises(FileNotFoundError, match="save: cannot write .*no/such/folder/m.npz"):
        model.save(tmp_path / "no" / "such" / "folder" / "m.npz")
    (tmp_path / "taken.npz").mkdir()
    with pytest.raises(OSError, match="save: cannot write .*taken.npz"):
        model.save(tmp_path / "taken.npz")
    assert sorted(os.listdir(tmp_path)) == ["taken.npz"]  # no temporary file left


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_save_leaves_the_existing_file_intact(tmp_path, monkeypatch, failure):
    old = Linear(2, 2, rng=rng)
    old.save(tmp_path / "m.npz")
    saved = (tmp_path / "m.npz").read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"PK\x03\x04 half written")
        raise failure

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(type(failure)):
        Linear(2, 2, rng=rng).save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == saved
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]


def test_names_that_np_savez_cannot_store_are_refused(tmp_path):
    m = Module()
    m.file = Parameter(np.ones(1))
    with pytest.raises(ValueError, match="cannot store arrays named \\['file'\\]"):
        m.save(tmp_path / "m")
    assert os.listdir(tmp_path) == []


# layers

def test_linear_shapes_dtype_and_bias():
    layer = Linear(4, 3, rng=rng)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    assert layer.in_features == 4 and layer.out_features == 3
    half = Linear(4, 3, rng=rng, dtype=np.float32)
    assert half.weight.dtype == half.bias.dtype == np.float32
    assert Linear(4, 3, rng=rng, dtype="float32").weight.dtype == np.float32  # any NumPy spelling
    assert Linear(4, 3, rng=rng).weight.dtype == np.float64
    assert Linear(4, 3, bias=False, rng=rng).bias is None
    assert names(Linear(4, 3, bias=False, rng=rng).named_parameters()) == ["weight"]
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer(x).value, x @ layer.weight.value + layer.bias.value)
    assert layer(rng.standard_normal((2, 5, 4))).shape == (2, 5, 3) and layer(np.ones(4)).shape == (3,)


def test_linear_initialisation_is_pytorchs_uniform():
    fan_in = 250
    layer = Linear(fan_in, 400, rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(fan_in)
    for p in [layer.weight, layer.bias]:
        assert np.abs(p.value).max() <= bound
    w = layer.weight.value
    assert np.abs(w).max() > 0.999 * bound and abs(w.mean()) < 0.01 * bound
    np.testing.assert_allclose(w.std(), bound / np.sqrt(3), rtol=0.01)  # the std of U(-a, a)
    np.testing.assert_allclose(np.abs(layer.bias.value).mean(), bound / 2, rtol=0.1)


def test_linear_draws_from_rng_or_the_seeded_generator():
    a = Linear(3, 2, rng=np.random.default_rng(7))
    b = Linear(3, 2, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.value, b.weight.value)
    mlfz.manual_seed(3)
    c = Linear(3, 2)
    mlfz.manual_seed(3)
    d = Linear(3, 2)
    np.testing.assert_array_equal(c.weight.value, d.weight.value)
    np.testing.assert_array_equal(c.bias.value, d.bias.value)
    assert not np.array_equal(Linear(3, 2).weight.value, d.weight.value)


@settings(max_examples=25, deadline=None)
@given(n_in=st.integers(1, 4), n_out=st.integers(1, 4), batch=st.lists(st.integers(1, 3), max_size=2),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_gradients(n_in, n_out, batch, bias, seed):
    r = np.random.default_rng(seed)
    layer = Linear(n_in, n_out, bias=bias, rng=r)
    x = Tensor(r.standard_normal((*batch, n_in)))
    assert gradient_check(lambda x, *params: layer(x), x, *layer.parameters()) < 1e-7


def test_linear_bias_gradient_is_the_batch_sum():
    layer = Linear(3, 2, rng=rng)
    x = rng.standard_normal((6, 3))
    g = rng.standard_normal((6, 2))
    layer(x).backward(g)
    np.testing.assert_allclose(layer.bias.backwards_grad, g.sum(axis=0))
    np.testing.assert_allclose(layer.weight.backwards_grad, x.T @ g)


def test_a_layer_fed_the_wrong_width_names_itself_in_the_model():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.layers = Sequential(Linear(64, 100), ReLU(), Linear(128, 10))

        def forward(self, x):
            return self.layers(x)

    with pytest.raises(ValueError, match=r"^layers\.2 \(Linear 128→10\) got input of shape \(64, 100\)"):
        Net()(np.ones((64, 64)))
    with pytest.raises(ValueError, match=r"^Linear 3→2 got input of shape \(\)"):
        Linear(3, 2)(Tensor(1.0))


@pytest.mark.parametrize("args, error, text", [
    ((0, 2), ValueError, "in_features must be a positive integer, got 0"),
    ((2, -1), ValueError, "out_features must be a positive integer, got -1"),
    ((2.0, 2), ValueError, "in_features must be a positive integer"),
    ((True, 2), ValueError, "in_features must be a positive integer"),
])
def test_linear_refuses_bad_sizes(args, error, text):
    with pytest.raises(error, match=text):
        Linear(*args)


def test_linear_refuses_a_bad_rng_or_dtype():
    with pytest.raises(TypeError, match="rng must be a np.random.Generator"):
        Linear(2, 2, rng=42)
    with pytest.raises(TypeError, match="dtype must be a floating type, got int64"):
        Linear(2, 2, dtype=np.int64)


def test_sequential_is_indexable_sized_and_iterable():
    layers = [Linear(2, 3, rng=rng), Tanh(), Linear(3, 1, rng=rng)]
    model = Sequential(*layers)
    assert len(model) == 3 and list(model) == layers and model[-1] is layers[2]
    assert model[np.int64(1)] is layers[1]
    head = model[:2]
    assert isinstance(head, Sequential) and list(head) == layers[:2]
    assert head[0].weight.name == "0.weight"
    x = rng.standard_normal((4, 2))
    np.testing.assert_allclose(model(x).value, layers[2](np.tanh(layers[0](x).value)).value)
    assert len(Sequential()) == 0 and Sequential()(x) is x
    with pytest.raises(IndexError, match="out of range for 3 modules"):
        model[3]
    with pytest.raises(TypeError, match="integer or a slice"):
        model["1"]
    with pytest.raises(TypeError, match="argument 1 is a function, not a Module.*ReLU"):
        Sequential(layers[0], lambda x: x)


def test_activation_modules():
    z = rng.standard_normal((3, 4)) * 3
    np.testing.assert_allclose(ReLU()(z).value, np.maximum(z, 0))
    np.testing.assert_allclose(Tanh()(z).value, np.tanh(z))
    np.testing.assert_allclose(Sigmoid()(z).value, 1 / (1 + np.exp(-z)))
    for layer in [ReLU(), Tanh(), Sigmoid()]:
        assert layer.parameters() == [] and gradient_check(layer, Tensor(z + 0.1)) < 1e-6


def test_flatten_keeps_axis_0():
    x = Tensor(rng.standard_normal((2, 3, 4, 5)))
    assert Flatten()(x).shape == (2, 60)
    np.testing.assert_array_equal(Flatten()(x).value, x.value.reshape(2, 60))
    assert Flatten()(np.ones((3, 2))).shape == (3, 2) and Flatten()(np.ones(3)).shape == (3, 1)
    assert Flatten()(np.ones((0, 2, 2))).shape == (0, 4)
    assert gradient_check(Flatten(), x) < 1e-8
    with pytest.raises(ValueError, match="Flatten needs a batch axis"):
        Flatten()(np.float64(1.0))


def test_residual_adds_its_input():
    inner = Sequential(Linear(3, 3, rng=rng), Tanh())
    block = Residual(inner)
    x = Tensor(rng.standard_normal((4, 3)))
    np.testing.assert_allclose(block(x).value, x.value + inner(x).value)
    assert names(block.named_parameters()) == ["module.0.weight", "module.0.bias"]
    assert gradient_check(lambda x, *ps: block(x), x, *block.parameters()) < 1e-7
    model = Sequential(Residual(Linear(3, 2, rng=rng)))
    with pytest.raises(ValueError, match=r"^0 \(Residual\): its module maps shape \(4, 3\) to \(4, 2\)"):
        model(x)
    with pytest.raises(TypeError, match="Residual: expected a Module"):
        Residual(np.tanh)


def test_a_deep_copy_is_independent_and_keeps_parameters():
    model = Sequential(Linear(2, 3, rng=rng), ReLU(), Linear(3, 1, rng=rng))
    twin = copy.deepcopy(model)
    assert all(type(p) is Parameter for p in twin.parameters())
    assert not set(map(id, twin.parameters())) & set(map(id, model.parameters()))
    twin[0].weight.value = np.zeros((2, 3))
    assert not np.array_equal(model[0].weight.value, np.zeros((2, 3)))
    assert names(twin.named_parameters()) == names(model.named_parameters())


def test_the_public_names_are_the_contracts_and_hide_no_builtin():
    import mlfz.nn.modules as modules
    assert modules.__all__ == ["Parameter", "Module", "Linear", "Sequential", "ReLU", "Tanh", "Sigmoid",
                               "Flatten", "Residual"]
    namespace = {}
    exec("from mlfz.nn.modules import *", namespace)
    assert "eval" not in namespace and "load" not in namespace
    for name in ["parameters", "named_parameters", "children", "modules", "zero_grad", "train", "eval",
                 "state_dict", "load_state_dict", "save", "load", "register_buffer"]:
        method = getattr(Module, name)
        assert method.__name__ == name and method.__qualname__ == f"Module.{name}" and method.__doc__
