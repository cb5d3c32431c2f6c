"""Normalisation and dropout (chapter 34): values from NumPy, gradients by finite differences, running
statistics against a NumPy transcription of PyTorch's documented update, train/eval, dtypes, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlfz.autodiff import topological_order
from mlfz.gradcheck import gradient_check
from mlfz.nn.normalization import batch_norm, layer_norm, standardize
from mlfz.nn.tensor import Tensor
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
