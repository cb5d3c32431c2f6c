"""Normalisation and dropout (chapter 34): values from NumPy, gradients by finite differences, running
statistics against a NumPy transcription of PyTorch's documented update, train/eval, dtypes, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlfz import manual_seed
from mlfz.autodiff import topological_order
from mlfz.gradcheck import gradient_check
from mlfz.nn.modules import Linear, Parameter, Sequential
from mlfz.nn.normalization import BatchNorm1d, Dropout, LayerNorm, batch_norm, dropout, layer_norm, standardize
from mlfz.nn.tensor import Tensor, no_grad
from mlfz.nn.tensor.functional import sqrt

checked = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)


def standardized_np(x, axis, eps=1e-5):
    "(x − mean) / sqrt(biased variance + eps) along `axis`, in NumPy."
    return (x - x.mean(axis=axis, keepdims=True)) / np.sqrt(x.var(axis=axis, keepdims=True) + eps)


AXES = [((3, 3), -1), ((3, 3), 0), ((4, 2), 1), ((2, 3, 4), (0, 2)), ((2, 3, 4), None), ((5,), 0),
        ((4, 1), -1), ((1, 3, 2), (-1, -2))]


# --- standardize ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axis", AXES)
def test_standardize_values_and_gradient(shape, axis):
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, shape)
    np.testing.assert_allclose(standardize(x, axis=axis).value, standardized_np(x, axis), rtol=1e-12)
    gradient_check(standardize, Tensor(x), axis=axis)


@checked
@given(seeds, st.sampled_from(AXES), st.sampled_from([1e-5, 1e-2, 1.0]))
def test_standardize_matches_the_composed_graph(seed, shape_axis, eps):
    shape, axis = shape_axis
    rng = np.random.default_rng(seed)
    x = Tensor(rng.normal(1.0, 3.0, shape))
    x_composed = Tensor(x.value)
    upstream = rng.standard_normal(shape)
    standardize(x, axis=axis, eps=eps).backward(upstream)
    centered = x_composed - x_composed.mean(axis=axis, keepdims=True)
    composed = centered / sqrt((centered * centered).mean(axis=axis, keepdims=True) + eps)
    composed.backward(upstream)
    np.testing.assert_allclose(x.backwards_grad, x_composed.backwards_grad, rtol=1e-9, atol=1e-12)
    # shifting a slice leaves x̂ unchanged: the gradient sums to 0 along the axes
    np.testing.assert_allclose(x.backwards_grad.sum(axis=axis), 0, atol=1e-10)


def test_standardize_is_one_node_and_keeps_float32():
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((4, 5)).astype(np.float32))
    y = standardize(x, axis=0)
    assert len(topological_order(y)) == 2 and y.op == "standardize axis 0"
    upstream = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(upstream)
    assert y.dtype == np.float32 and x.backwards_grad.dtype == np.float32
    expected = standardized_np(x.value.astype(np.float64), 0)
    np.testing.assert_allclose(y.value, expected, rtol=1e-5, atol=1e-6)


def test_standardize_with_eps_zero_and_errors():
    np.testing.assert_allclose(standardize([1.0, 2.0, 3.0], eps=0).value, np.sqrt(1.5) * np.array([-1, 0, 1]))
    with pytest.raises(ValueError, match=r"^standardize: a slice along axis 1 has all its elements equal"):
        standardize(np.array([[1.0, 2.0], [3.0, 3.0]]), eps=0)
    with pytest.raises(ValueError, match=r"^standardize: axis 1 of shape \(2, 0\) has length 0"):
        standardize(np.ones((2, 0)))
    with pytest.raises(ValueError, match=r"^standardize: axis 2 is out of range"):
        standardize(np.ones((2, 3)), axis=2)
    for bad in [-1e-5, np.nan, np.inf]:
        with pytest.raises(ValueError, match=r"^standardize: eps must be in \[0, ∞\)"):
            standardize(np.ones(3), eps=bad)
    for bad in ["1e-5", None, True]:
        with pytest.raises(TypeError, match="^standardize: eps must be a real number"):
            standardize(np.ones(3), eps=bad)
    with pytest.raises(TypeError, match="^standardize: expected real numbers"):
        standardize("abc")


# --- layer_norm ------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_shape, normalized_shape", [((4, 3), 3), ((3, 3), (3,)), ((2, 3, 4), (3, 4)),
                                                       ((5,), 5), ((2, 1, 3), (1, 3)), ((0, 3), 3)])
def test_layer_norm_values_and_gradients(x_shape, normalized_shape):
    rng = np.random.default_rng(3)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    axes = tuple(range(len(x_shape) - len(shape), len(x_shape)))
    x, w, b = rng.normal(1.0, 2.0, x_shape), rng.standard_normal(shape), rng.standard_normal(shape)
    expected = standardized_np(x, axes, 1e-3) * w + b
    np.testing.assert_allclose(layer_norm(x, normalized_shape, w, b, eps=1e-3).value, expected, rtol=1e-12)
    np.testing.assert_allclose(layer_norm(x, normalized_shape).value, standardized_np(x, axes), rtol=1e-12)
    if x.size:
        gradient_check(lambda x, w, b: layer_norm(x, normalized_shape, w, b), Tensor(x), Tensor(w), Tensor(b))


def test_layer_norm_parameter_gradients_are_sums_over_the_batch():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 3))
    w, b = Tensor(rng.standard_normal(3)), Tensor(rng.standard_normal(3))
    upstream = rng.standard_normal((5, 3))
    layer_norm(x, 3, w, b).backward(upstream)
    np.testing.assert_allclose(w.backwards_grad, (upstream * standardized_np(x, 1)).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(b.backwards_grad, upstream.sum(axis=0), rtol=1e-12)


def test_layer_norm_keeps_float32():
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((4, 3)).astype(np.float32))
    w, b = Tensor(np.ones(3, np.float32)), Tensor(np.zeros(3, np.float32))
    y = layer_norm(x, 3, w, b)
    y.backward(rng.standard_normal((4, 3)).astype(np.float32))
    assert y.dtype == np.float32
    assert {t.backwards_grad.dtype for t in (x, w, b)} == {np.dtype(np.float32)}


def test_layer_norm_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"^layer_norm: an input of shape \(2, 3\) does not end in the "
                                         r"normalized_shape \(2,\)"):
        layer_norm(x, 2)
    with pytest.raises(ValueError, match=r"does not end in the normalized_shape \(2, 3, 1\)"):
        layer_norm(x, (2, 3, 1))
    with pytest.raises(ValueError, match=r"^layer_norm: weight must have shape \(3,\), got shape \(1,\)"):
        layer_norm(x, 3, weight=np.ones(1))  # it would broadcast: refused
    with pytest.raises(ValueError, match=r"^layer_norm: bias must have shape \(3,\), got shape \(\)"):
        layer_norm(x, 3, bias=0.5)
    for bad in [0, -3, 3.0, True, "3", None]:
        with pytest.raises(ValueError, match="^layer_norm: normalized_shape must be a positive integer, got"):
            layer_norm(x, bad)
    for bad in [(3, 0), [2, 3.0], (np.int64(2), False)]:
        with pytest.raises(ValueError, match="^layer_norm: each size in normalized_shape must be a positive"):
            layer_norm(x, bad)
    with pytest.raises(ValueError, match=r"^layer_norm: normalized_shape must name at least one axis"):
        layer_norm(x, ())
    with pytest.raises(ValueError, match=r"^layer_norm: eps must be in"):
        layer_norm(x, 3, eps=-1)


# --- batch_norm ------------------------------------------------------------------------------------

def pytorch_running_update(running_mean, running_var, batch, momentum):
    """PyTorch's documented update of BatchNorm's running estimates, transcribed: x_new = (1 − momentum)
    · x_old + momentum · x_t, with the unbiased batch variance."""
    n = len(batch)
    batch_var = ((batch - batch.mean(axis=0)) ** 2).sum(axis=0) / (n - 1)
    return ((1 - momentum) * running_mean + momentum * batch.mean(axis=0),
            (1 - momentum) * running_var + momentum * batch_var)


@pytest.mark.parametrize("momentum", [0.1, 0.5, 0.0, 1.0])
@pytest.mark.parametrize("n", [2, 3, 7])
def test_batch_norm_running_estimates_over_several_steps(momentum, n):
    rng = np.random.default_rng(6)
    running_mean, running_var = np.zeros(3), np.ones(3)
    expected_mean, expected_var = np.zeros(3), np.ones(3)
    for _ in range(5):
        x = rng.normal([1.0, -2.0, 5.0], [1.0, 3.0, 0.5], (n, 3))
        y = batch_norm(x, running_mean, running_var, training=True, momentum=momentum)
        np.testing.assert_allclose(y.value, standardized_np(x, 0), rtol=1e-11, atol=1e-12)  # biased variance
        expected_mean, expected_var = pytorch_running_update(expected_mean, expected_var, x, momentum)
        np.testing.assert_allclose(running_mean, expected_mean, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(running_var, expected_var, rtol=1e-12)


def test_batch_norm_evaluation_uses_the_running_estimates():
    rng = np.random.default_rng(7)
    x, w, b = rng.normal(size=(4, 3)), rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    before = mean.copy(), var.copy()
    y = batch_norm(x, mean, var, w, b, eps=1e-3)
    np.testing.assert_allclose(y.value, (x - mean) / np.sqrt(var + 1e-3) * w + b, rtol=1e-13)
    np.testing.assert_array_equal(mean, before[0])  # evaluation changes nothing
    np.testing.assert_array_equal(var, before[1])
    one = batch_norm(x[:1], mean, var, w, b, eps=1e-3)  # one sample is fine in evaluation
    np.testing.assert_allclose(one.value, y.value[:1], rtol=1e-13)
    # training on the same input gives a different answer: the batch's own statistics
    assert not np.allclose(batch_norm(x, mean, var, w, b, training=True).value, y.value)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (6, 1)])
def test_batch_norm_gradients_in_both_modes(shape):
    rng = np.random.default_rng(8)
    c = shape[1]
    x = Tensor(rng.normal(1.0, 2.0, shape))
    w, b = Tensor(rng.standard_normal(c)), Tensor(rng.standard_normal(c))
    gradient_check(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), x, w, b)
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    gradient_check(lambda x, w, b: batch_norm(x, mean, var, w, b), x, w, b)


def test_batch_norm_running_estimates_stay_out_of_the_graph():
    rng = np.random.default_rng(9)
    running_mean, running_var = np.zeros(2), np.ones(2)
    for training in [True, False]:
        y = batch_norm(Tensor(rng.normal(size=(4, 2))), running_mean, running_var, training=training)
        for node in topological_order(y):
            assert all(not isinstance(v, np.ndarray) or not np.shares_memory(v, r)
                       for v in [node.value] + [e.local_grad for e in node.prevs] for r in [running_mean, running_var])
    x = Tensor(rng.normal(size=(4, 2)))
    y = batch_norm(x, running_mean, running_var, training=True)
    kept = running_mean.copy()
    batch_norm(rng.normal(size=(4, 2)), running_mean, running_var, training=True)  # estimates change...
    assert not np.array_equal(kept, running_mean)
    upstream = rng.standard_normal((4, 2))
    y.backward(upstream)  # ... and the earlier graph still backpropagates as built
    x2 = Tensor(x.value)
    batch_norm(x2, None, None, training=True).backward(upstream)
    np.testing.assert_array_equal(x.backwards_grad, x2.backwards_grad)


def test_batch_norm_keeps_float32_and_the_buffers_dtype():
    rng = np.random.default_rng(10)
    x = Tensor(rng.normal(2.0, 3.0, (5, 3)).astype(np.float32))
    running_mean, running_var = np.zeros(3, np.float32), np.ones(3, np.float32)
    y = batch_norm(x, running_mean, running_var, Tensor(np.ones(3, np.float32)), training=True)
    y.backward(rng.standard_normal((5, 3)).astype(np.float32))
    assert y.dtype == x.backwards_grad.dtype == np.float32
    assert running_mean.dtype == running_var.dtype == np.float32
    expected_mean, expected_var = pytorch_running_update(np.zeros(3), np.ones(3), x.value.astype(np.float64), 0.1)
    np.testing.assert_allclose(running_mean, expected_mean, rtol=1e-5)
    np.testing.assert_allclose(running_var, expected_var, rtol=1e-5)
    assert batch_norm(x, running_mean, running_var).dtype == np.float32


def test_batch_norm_errors():
    x, ones = np.ones((4, 3)), np.ones(3)
    with pytest.raises(ValueError, match=r"^batch_norm: expected more than 1 sample per feature when training, "
                                         r"got an input of shape \(1, 3\)"):
        batch_norm(np.ones((1, 3)), np.zeros(3), ones, training=True)
    with pytest.raises(ValueError, match=r"^batch_norm: axis 0 of shape \(0, 3\) has length 0"):
        batch_norm(np.ones((0, 3)), None, None, training=True)
    for shape in [(3,), (4, 3, 2), ()]:
        with pytest.raises(ValueError, match=r"^batch_norm: expected an input of shape \(N, C\)"):
            batch_norm(np.ones(shape), None, None, training=True)
    with pytest.raises(ValueError, match=r"^batch_norm: evaluation \(training=False\) standardises with the "
                                         "running estimates, but running_mean is None"):
        batch_norm(x, None, None)
    with pytest.raises(ValueError, match="^batch_norm: give both running_mean and running_var, or neither"):
        batch_norm(x, None, ones, training=True)
    with pytest.raises(ValueError, match=r"^batch_norm: running_var must have shape \(3,\), got shape \(1, 3\)"):
        batch_norm(x, ones, np.ones((1, 3)))
    with pytest.raises(TypeError, match="^batch_norm: running_mean must be a float NumPy array"):
        batch_norm(x, Tensor(ones), ones)
    with pytest.raises(TypeError, match="^batch_norm: running_var must be a float NumPy array"):
        batch_norm(x, ones, np.ones(3, dtype=int))
    frozen = np.ones(3)
    frozen.flags.writeable = False
    batch_norm(x, frozen, frozen)  # read-only estimates are fine in evaluation
    with pytest.raises(ValueError, match="^batch_norm: running_var is read-only, but training updates it"):
        batch_norm(x, np.zeros(3), frozen, training=True)
    for bad_var in [-ones, np.array([1.0, np.nan, 1.0])]:
        with pytest.raises(ValueError, match=r"^batch_norm: running_var \+ eps must be positive"):
            batch_norm(x, ones, bad_var)
    with pytest.raises(ValueError, match=r"^batch_norm: running_var \+ eps must be positive"):
        batch_norm(x, ones, np.zeros(3), eps=0)
    for bad in [-0.1, 1.1, np.nan]:
        with pytest.raises(ValueError, match=r"^batch_norm: momentum must be in \[0, 1\]"):
            batch_norm(x, ones, ones, momentum=bad)
    with pytest.raises(TypeError, match="^batch_norm: momentum must be a real number, got None"):
        batch_norm(x, ones, ones, momentum=None)
    with pytest.raises(ValueError, match=r"^batch_norm: weight must have shape \(3,\), got shape \(4,\)"):
        batch_norm(x, ones, ones, weight=np.ones(4))
    with pytest.raises(ValueError, match=r"^batch_norm: a slice along axis 0 has all its elements equal"):
        batch_norm(x, None, None, training=True, eps=0)


# --- dropout ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9])
def test_dropout_mask_and_exact_scaling(p, dtype):
    rng = np.random.default_rng(11)
    x = Tensor(rng.standard_normal((6, 7)).astype(dtype))
    y = dropout(x, p, rng=np.random.default_rng(12))
    keep = np.random.default_rng(12).random((6, 7)) < 1 - p  # an element survives when u < 1 − p
    scale = dtype(1 / (1 - p))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.value[keep], x.value[keep] * scale)
    assert (y.value[~keep] == 0).all()
    upstream = rng.standard_normal((6, 7)).astype(dtype)
    y.backward(upstream)
    assert x.backwards_grad.dtype == dtype
    np.testing.assert_array_equal(x.backwards_grad, np.where(keep, upstream * scale, 0))


def test_dropout_gradient_by_finite_differences():
    x = Tensor(np.random.default_rng(13).standard_normal((3, 4)))
    gradient_check(lambda x: dropout(x, 0.4, rng=np.random.default_rng(14)), x)  # the same mask each call


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics(p):
    "The fraction dropped is p and every element keeps its expected value (4 standard deviations)."
    n = 40_000
    x = np.array([3.0, -1.0, 0.5])
    y = dropout(np.tile(x, (n, 1)), p, rng=np.random.default_rng(15)).value
    assert abs((y == 0).mean() - p) < 4 * np.sqrt(p * (1 - p) / y.size)
    std = np.abs(x) * np.sqrt(p / (1 - p))  # of each y_i
    assert (np.abs(y.mean(axis=0) - x) < 4 * std / np.sqrt(n)).all()
    assert set(np.unique(np.abs(y))) == {0.0} | set(np.abs(x) * (1 / (1 - p)))


def test_dropout_modes_and_draws():
    x = Tensor(np.arange(1.0, 7.0).reshape(2, 3))
    assert dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(dropout([1.0, 2.0], training=False).value, [1.0, 2.0])
    np.testing.assert_array_equal(dropout(x, 0.0).value, x.value)
    assert dropout(Tensor(2.0), 0.5, rng=np.random.default_rng(0)).shape == ()
    ones = np.ones(50)
    manual_seed(21)  # rng=None: the library's generator
    drawn = dropout(ones, 0.5).value
    np.testing.assert_array_equal(drawn, dropout(ones, 0.5, rng=np.random.default_rng(21)).value)
    assert not np.array_equal(dropout(ones, 0.5).value, drawn)  # a new mask each call


def test_dropout_errors():
    for bad in [1, 1.0, 1.5, -0.1, np.nan]:
        with pytest.raises(ValueError, match=r"^dropout: p must be in \[0, 1\), got"):
            dropout(np.ones(3), bad)
        with pytest.raises(ValueError, match=r"^Dropout: p must be in \[0, 1\), got"):
            Dropout(bad)
    for bad in ["0.5", None, True]:
        with pytest.raises(TypeError, match="^dropout: p must be a real number"):
            dropout(np.ones(3), bad)
    with pytest.raises(TypeError, match="^dropout: rng must be a np.random.Generator or None"):
        dropout(np.ones(3), rng=np.random.RandomState(0))
    with pytest.raises(TypeError, match="^Dropout: rng must be a np.random.Generator or None"):
        Dropout(rng=0)


# --- the layers ------------------------------------------------------------------------------------

def test_dropout_layer():
    drop = Dropout(0.3, rng=np.random.default_rng(16))
    assert drop.p == 0.3 and drop.parameters() == [] and list(drop.state_dict()) == []
    x = Tensor(np.random.default_rng(17).standard_normal((5, 4)))
    y = drop(x)
    keep = np.random.default_rng(16).random((5, 4)) < 0.7
    np.testing.assert_array_equal(y.value, np.where(keep, x.value * (1 / 0.7), 0))
    assert drop.eval()(x) is x
    assert repr(drop) == "Dropout(p=0.3)"
    unseeded = Dropout()  # draws at each call from the generator as it is then
    manual_seed(3)
    first = unseeded(x).value
    manual_seed(3)
    np.testing.assert_array_equal(unseeded(x).value, first)


def test_layer_norm_layer():
    norm = LayerNorm((2, 3))
    assert norm.normalized_shape == (2, 3) and norm.eps == 1e-5
    assert [(name, p.shape) for name, p in norm.named_parameters()] == [("weight", (2, 3)), ("bias", (2, 3))]
    assert all(isinstance(p, Parameter) and p.dtype == np.float64 for p in norm.parameters())
    np.testing.assert_array_equal(norm.weight.value, np.ones((2, 3)))
    np.testing.assert_array_equal(norm.bias.value, np.zeros((2, 3)))
    rng = np.random.default_rng(18)
    norm.weight.value, norm.bias.value = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x = rng.normal(1.0, 2.0, (4, 2, 3))
    expected = standardized_np(x, (1, 2)) * norm.weight.value + norm.bias.value
    np.testing.assert_allclose(norm(x).value, expected, rtol=1e-12)
    np.testing.assert_allclose(norm.eval()(x).value, expected, rtol=1e-12)  # the same in evaluation
    gradient_check(lambda x, w, b: norm(x), Tensor(x), norm.weight, norm.bias)
    assert repr(LayerNorm(4, eps=0.1)) == "LayerNorm((4,), eps=0.1)"

    norm32 = LayerNorm(3, dtype=np.float32)
    x32 = Tensor(rng.standard_normal((2, 3)).astype(np.float32))
    y = norm32(x32)
    y.backward(np.ones((2, 3), np.float32))
    assert y.dtype == norm32.weight.dtype == norm32.weight.backwards_grad.dtype == np.float32

    model = Sequential(Linear(4, 3, rng=rng), LayerNorm(3))
    with pytest.raises(ValueError, match=r"^1 \(LayerNorm\): an input of shape \(2, 4\) does not end"):
        model[1](np.ones((2, 4)))
    with pytest.raises(ValueError, match="^LayerNorm: normalized_shape must be a positive integer, got -1"):
        LayerNorm(-1)
    with pytest.raises(ValueError, match="^LayerNorm: eps must be in"):
        LayerNorm(3, eps=-1.0)
    with pytest.raises(TypeError, match="^LayerNorm: dtype must be a floating type"):
        LayerNorm(3, dtype=np.int64)


def cumulative_average_update(batches):
    "PyTorch's momentum=None: the plain average of the batch means and of the unbiased batch variances."
    return (np.mean([b.mean(axis=0) for b in batches], axis=0),
            np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0))


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batch_norm_layer_running_estimates_over_several_steps(momentum):
    rng = np.random.default_rng(19)
    bn = BatchNorm1d(3, momentum=momentum)
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
    expected_mean, expected_var, batches = np.zeros(3), np.ones(3), []
    for step in range(1, 6):
        x = rng.normal([0.0, 4.0, -2.0], [1.0, 3.0, 0.5], (int(rng.integers(2, 9)), 3))
        batches.append(x)
        np.testing.assert_allclose(bn(x).value, standardized_np(x, 0), rtol=1e-11, atol=1e-12)
        if momentum is None:
            expected_mean, expected_var = cumulative_average_update(batches)
        else:
            expected_mean, expected_var = pytorch_running_update(expected_mean, expected_var, x, momentum)
        np.testing.assert_allclose(bn.running_mean, expected_mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var, expected_var, rtol=1e-12)
        assert bn.num_batches_tracked == step and bn.num_batches_tracked.dtype == np.int64


def test_batch_norm_layer_train_and_eval():
    rng = np.random.default_rng(20)
    bn = BatchNorm1d(2)
    bn.weight.value, bn.bias.value = np.array([2.0, -1.0]), np.array([0.5, 3.0])
    for _ in range(3):
        bn(rng.normal(5.0, 2.0, (6, 2)))
    state = bn.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert len(bn.parameters()) == 2  # buffers are not parameters
    x = rng.normal(5.0, 2.0, (4, 2))
    train_out = bn(x).value
    np.testing.assert_allclose(train_out, standardized_np(x, 0) * [2.0, -1.0] + [0.5, 3.0], rtol=1e-12)
    bn.eval()
    state = bn.state_dict()
    eval_out = bn(x).value
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5) * [2.0, -1.0] + [0.5, 3.0]
    np.testing.assert_allclose(eval_out, expected, rtol=1e-13)
    np.testing.assert_allclose(bn(x[:1]).value, eval_out[:1], rtol=1e-13)  # one sample, same answer
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, state[name])  # evaluation updates nothing
    gradient_check(lambda x, w, b: bn(x), Tensor(x), bn.weight, bn.bias)

    copy = BatchNorm1d(2)
    copy.load_state_dict(bn.state_dict())
    np.testing.assert_allclose(copy.eval()(x).value, eval_out, rtol=1e-15)
    assert copy.num_batches_tracked.dtype == np.int64


def test_batch_norm_layer_gradients_while_training():
    rng = np.random.default_rng(21)
    bn = BatchNorm1d(3)
    bn.weight.value, bn.bias.value = rng.standard_normal(3), rng.standard_normal(3)
    gradient_check(lambda x, w, b: bn(x), Tensor(rng.normal(size=(3, 3))), bn.weight, bn.bias)


def test_batch_norm_layer_refuses_one_sample_while_training_and_changes_nothing():
    bn = BatchNorm1d(3)
    bn(np.random.default_rng(22).normal(size=(4, 3)))
    state = bn.state_dict()
    with pytest.raises(ValueError, match=r"^BatchNorm1d\(3\): expected more than 1 sample per feature when "
                                         r"training, got an input of shape \(1, 3\)"):
        bn(np.ones((1, 3)))
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    bn.eval()(np.ones((1, 3)))  # fine in evaluation


def test_batch_norm_layer_buffers_stay_out_of_the_graph():
    rng = np.random.default_rng(23)
    bn = BatchNorm1d(2)
    y = bn(Tensor(rng.normal(size=(4, 2))))
    assert all(type(b) is np.ndarray for b in bn.buffers())
    for node in topological_order(y):
        for value in [node.value] + [edge.local_grad for edge in node.prevs]:
            if isinstance(value, np.ndarray):
                assert not any(np.shares_memory(value, b) for b in bn.buffers())
    with no_grad():  # no graph, but training still updates the estimates, as in PyTorch
        before = bn.running_mean.copy()
        y = bn(rng.normal(size=(4, 2)))
    assert y.prevs == [] and not np.array_equal(before, bn.running_mean)
    assert bn.num_batches_tracked == 2


def test_batch_norm_layer_dtype():
    rng = np.random.default_rng(24)
    bn = BatchNorm1d(3, dtype=np.float32)
    assert {a.dtype for a in [bn.weight.value, bn.bias.value, bn.running_mean, bn.running_var]} == {
        np.dtype(np.float32)}
    x = Tensor(rng.normal(size=(5, 3)).astype(np.float32))
    for _ in range(3):
        y = bn(x)
    y.backward(np.ones((5, 3), np.float32))
    assert y.dtype == x.backwards_grad.dtype == bn.weight.backwards_grad.dtype == np.float32
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float32
    assert bn.eval()(x).dtype == np.float32


def test_batch_norm_layer_errors_and_repr():
    assert repr(BatchNorm1d(4)) == "BatchNorm1d(4, eps=1e-05, momentum=0.1)"
    assert repr(BatchNorm1d(4, momentum=None)) == "BatchNorm1d(4, eps=1e-05, momentum=None)"
    model = Sequential(BatchNorm1d(3))
    with pytest.raises(ValueError, match=r"^0 \(BatchNorm1d\(3\)\): expected an input of shape \(N, 3\), "
                                         r"got shape \(4, 2\)"):
        model(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"expected an input of shape \(N, 3\), got shape \(4, 3, 1\)"):
        model(np.ones((4, 3, 1)))
    for bad in [0, 2.5, "3"]:
        with pytest.raises(ValueError, match="^BatchNorm1d: num_features must be a positive integer"):
            BatchNorm1d(bad)
    with pytest.raises(ValueError, match=r"^BatchNorm1d: momentum must be in \[0, 1\], got 1.5"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(TypeError, match="^BatchNorm1d: momentum must be a real number"):
        BatchNorm1d(3, momentum="0.1")
    with pytest.raises(ValueError, match=r"^BatchNorm1d: eps must be in \[0, ∞\)"):
        BatchNorm1d(3, eps=-1e-5)
    with pytest.raises(TypeError, match="^BatchNorm1d: dtype must be a floating type"):
        BatchNorm1d(3, dtype=int)


def test_model_modes_switch_every_layer():
    rng = np.random.default_rng(25)
    model = Sequential(Linear(4, 6, rng=rng), BatchNorm1d(6), Dropout(0.5, rng=rng), LayerNorm(6))
    x = rng.standard_normal((8, 4))
    model(x)
    model.eval()
    np.testing.assert_array_equal(model(x).value, model(x).value)
    model.train()
    assert not np.array_equal(model(x).value, model(x).value)
