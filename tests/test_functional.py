"""Property tests for the elementwise functions, the softmax family and the losses: values, gradients, stability, errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes

import mlfz.nn.tensor.functional as F
from mlfz.gradcheck import gradient_check
from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.loss import binary_cross_entropy, cross_entropy, mean_absolute_error, mean_squared_error

checked = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonempty_shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def signed(rng, low, high, shape):
    "Values with |x| in [low, high] and random signs: away from 0, where relu has its kink."
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


# name: (function, NumPy reference, sampler of in-domain inputs)
ELEMENTWISE = {
    "exp": (F.exp, np.exp, lambda rng, s: rng.uniform(-3, 3, s)),
    "log": (F.log, np.log, lambda rng, s: rng.uniform(0.1, 5, s)),
    "sqrt": (F.sqrt, np.sqrt, lambda rng, s: rng.uniform(0.1, 5, s)),
    "sin": (F.sin, np.sin, lambda rng, s: rng.uniform(-4, 4, s)),
    "cos": (F.cos, np.cos, lambda rng, s: rng.uniform(-4, 4, s)),
    "tan": (F.tan, np.tan, lambda rng, s: rng.uniform(-1.4, 1.4, s)),
    "tanh": (F.tanh, np.tanh, lambda rng, s: rng.uniform(-3, 3, s)),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda rng, s: rng.uniform(-8, 8, s)),
    "relu": (F.relu, lambda x: np.maximum(x, 0), lambda rng, s: signed(rng, 0.1, 3, s)),
}
DERIVATIVES = {
    "exp": np.exp, "log": lambda x: 1 / x, "sqrt": lambda x: 0.5 / np.sqrt(x), "sin": np.cos,
    "cos": lambda x: -np.sin(x), "tan": lambda x: 1 / np.cos(x) ** 2, "tanh": lambda x: 1 / np.cosh(x) ** 2,
    "sigmoid": lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, "relu": lambda x: (x > 0).astype(float),
}


def test_functional_exports_exactly_the_api():
    assert sorted(F.__all__) == sorted(["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
                                        "softmax", "log_softmax", "logsumexp",
                                        "broadcast_to", "summation", "reshape", "transpose", "matmul"])
    for name in F.__all__:
        assert callable(getattr(F, name))


# elementwise functions

@checked
@given(st.sampled_from(sorted(ELEMENTWISE)), shapes, seeds)
def test_elementwise_values_and_gradients(name, shape, seed):
    f, reference, sample = ELEMENTWISE[name]
    rng = np.random.default_rng(seed)
    x = Tensor(sample(rng, shape))
    y = f(x)
    assert y.shape == x.shape and y.op == name and y.prevs[0].prev is x
    np.testing.assert_allclose(y.value, reference(x.value), rtol=1e-12, atol=1e-300)
    g = rng.standard_normal(shape)
    y.backward(g)
    np.testing.assert_allclose(x.backwards_grad, g * DERIVATIVES[name](x.value), rtol=1e-10, atol=1e-300)
    gradient_check(f, Tensor(sample(rng, shape)))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_keeps_float32_and_accepts_constants(name):
    f, reference, sample = ELEMENTWISE[name]
    x = sample(np.random.default_rng(0), (3,)).astype(np.float32)
    y = f(Tensor(x))
    assert y.dtype == np.float32
    y.backward(np.ones(3, dtype=np.float32))
    assert f(x).shape == (3,) and isinstance(f(list(x)), Tensor) and isinstance(f(0.5), Tensor)


def test_elementwise_does_not_modify_the_upstream_gradient():
    for name, (f, _, sample) in ELEMENTWISE.items():
        x = Tensor(sample(np.random.default_rng(1), (4,)))
        g = np.arange(1.0, 5.0)
        f(x).backward(g)
        np.testing.assert_array_equal(g, np.arange(1.0, 5.0), err_msg=name)


@pytest.mark.parametrize("f, name", [(F.log, "log"), (F.sqrt, "sqrt")])
def test_out_of_domain_is_refused_with_the_position(f, name):
    x = Tensor([[1.5, 2.0], [-0.5, 3.0]])
    with pytest.raises(ValueError, match=rf"^{name}: .* got -0.5 at index \(1, 0\)$"):
        f(x)


def test_nan_inputs_get_nan_gradients():
    for name, (f, _, _) in ELEMENTWISE.items():
        x = Tensor([np.nan, 0.5])
        y = f(x)
        y.backward(np.array([1.0, 1.0]))
        assert np.isnan(y.value[0]) and np.isnan(x.backwards_grad[0]), name


def test_log_at_zero_and_the_gradient_of_sqrt_and_roots_at_zero_are_refused():
    x = Tensor([0.0])
    with pytest.raises(ValueError, match="log: .* got 0.0"):
        F.log(x)
    with pytest.raises(ValueError, match="sqrt: the derivative .* infinite at 0"):
        F.sqrt(x).backward()
    with pytest.raises(ValueError, match=r"\*\*: the derivative .* infinite at 0"):
        (x ** 0.5).backward()
    assert x.backwards_grad is None  # a refused pass writes nothing


@checked
@given(nonempty_shapes, st.floats(1, 1000), seeds)
def test_sigmoid_is_stable_for_large_inputs(shape, scale, seed):
    rng = np.random.default_rng(seed)
    x = Tensor(scale * rng.standard_normal(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.sigmoid(x)
        y.backward(rng.standard_normal(shape))
    assert np.all((y.value >= 0) & (y.value <= 1)) and np.isfinite(x.backwards_grad).all()
    np.testing.assert_allclose(y.value + F.sigmoid(-x.value).value, 1.0, rtol=1e-14)  # σ(x) + σ(-x) = 1


def test_sigmoid_extremes_and_relu_kink():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(F.sigmoid(np.array([-1000.0, 1000.0])).value, [0.0, 1.0])
        assert F.sigmoid(np.array([-1000.0], dtype=np.float32)).value[0] == 0.0
    x = Tensor([-1.0, 0.0, 1.0])
    F.relu(x).backward(np.array([2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(x.backwards_grad, [0.0, 0.0, 2.0])


def test_tanh_of_a_matmul_passes_the_gradient_check():
    rng = np.random.default_rng(3)
    gradient_check(lambda x, w: F.tanh(x @ w), Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((3, 3))))


# softmax, log_softmax, logsumexp

def softmax_np(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@st.composite
def shape_and_axis(draw, allow_none=False, allow_tuple=False):
    shape = draw(nonempty_shapes)
    ndim = len(shape)
    choices = [st.integers(-ndim, ndim - 1)]
    if allow_none:
        choices.append(st.none())
    if allow_tuple:
        choices.append(st.lists(st.integers(0, ndim - 1), min_size=1, unique=True).map(
            lambda axes: tuple(a - ndim if i % 2 else a for i, a in enumerate(axes))))  # mix negative and positive
    return shape, draw(st.one_of(*choices))


@checked
@given(shape_and_axis(), st.sampled_from([1.0, 1000.0]), seeds)
def test_softmax_and_log_softmax(shape_axis, scale, seed):
    shape, axis = shape_axis
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no log(0)
        s, log_s = F.softmax(x, axis=axis), F.log_softmax(x, axis=axis)
    np.testing.assert_allclose(s.value, softmax_np(x, axis), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(s.value.sum(axis=axis), 1.0, rtol=1e-12)
    assert np.isfinite(log_s.value).all() and (log_s.value <= 0).all()
    np.testing.assert_allclose(np.exp(log_s.value), s.value, rtol=1e-12, atol=1e-300)
    for f in [F.softmax, F.log_softmax]:
        t = Tensor(x)
        y = f(t, axis=axis)
        y.backward(rng.standard_normal(shape))
        assert np.isfinite(t.backwards_grad).all()
    gradient_check(F.softmax, Tensor(rng.standard_normal(shape)), axis=axis)
    gradient_check(F.log_softmax, Tensor(rng.standard_normal(shape)), axis=axis)


@checked
@given(shape_and_axis(allow_none=True, allow_tuple=True), st.booleans(), st.sampled_from([1.0, 1000.0]), seeds)
def test_logsumexp_like_numpy_axes(shape_axis, keepdims, scale, seed):
    shape, axis = shape_axis
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lse = F.logsumexp(x, axis=axis, keepdims=keepdims)
    m = x.max(axis=axis, keepdims=True)
    expected = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    if not keepdims:
        expected = np.squeeze(expected, axis=axis) if axis is not None else expected.reshape(())
    assert lse.shape == np.sum(x, axis=axis, keepdims=keepdims).shape
    np.testing.assert_allclose(lse.value, expected, rtol=1e-13)
    t = Tensor(x)
    F.logsumexp(t, axis=axis, keepdims=keepdims).backward(rng.standard_normal(lse.shape))
    assert np.isfinite(t.backwards_grad).all()
    gradient_check(F.logsumexp, Tensor(rng.standard_normal(shape)), axis=axis, keepdims=keepdims)


def test_logsumexp_of_minus_infinity_and_0d():
    assert F.logsumexp(np.array([-np.inf, -np.inf])).value == -np.inf
    assert F.logsumexp(np.array([-np.inf, 0.0])).value == 0.0
    assert F.logsumexp(np.array(3.0)).value == 3.0
    gradient_check(F.logsumexp, Tensor(np.array(0.7)))


def test_softmax_gradient_matches_the_composed_graph():
    rng = np.random.default_rng(4)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    single, composed = Tensor(x), Tensor(x)
    F.softmax(single, axis=0).backward(g)
    e = F.exp(composed)
    (e / e.sum(axis=0, keepdims=True)).backward(g)
    np.testing.assert_allclose(single.backwards_grad, composed.backwards_grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("call, message", [
    (lambda: F.softmax(np.ones((2, 3)), axis=2), "softmax: axis 2 is out of range"),
    (lambda: F.log_softmax(np.ones((2, 3)), axis=-3), "log_softmax: axis -3 is out of range"),
    (lambda: F.logsumexp(np.ones(3), axis=(0, 0)), "logsumexp: repeated axis"),
])
def test_softmax_family_axis_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# losses

@checked
@given(shapes, seeds)
def test_regression_losses(shape, seed):
    rng = np.random.default_rng(seed)
    p, y = rng.standard_normal(shape), rng.standard_normal(shape)
    np.testing.assert_allclose(mean_squared_error(p, y).value, np.mean((p - y) ** 2), rtol=1e-13)
    np.testing.assert_allclose(mean_absolute_error(p, y).value, np.mean(np.abs(p - y)), rtol=1e-13)
    preds = Tensor(p)
    mean_squared_error(preds, y).backward()
    np.testing.assert_allclose(preds.backwards_grad, 2 * (p - y) / p.size, rtol=1e-12)
    gradient_check(mean_squared_error, Tensor(p), Tensor(y))
    gradient_check(mean_absolute_error, Tensor(p), Tensor(y))


@checked
@given(shapes, seeds)
def test_binary_cross_entropy(shape, seed):
    rng = np.random.default_rng(seed)
    p, y = rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(binary_cross_entropy(p, y).value, expected, rtol=1e-12)
    preds = Tensor(p)
    binary_cross_entropy(preds, y).backward()
    np.testing.assert_allclose(preds.backwards_grad, (p - y) / (p * (1 - p)) / p.size, rtol=1e-10)
    gradient_check(binary_cross_entropy, Tensor(p), Tensor(y))


def test_binary_cross_entropy_is_finite_at_0_and_1():
    p, y = np.array([0.0, 1.0, 0.0, 1.0, 1e-300, 1 - 1e-16]), np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0])
    preds = Tensor(p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = binary_cross_entropy(preds, y)
        loss.backward()
    assert np.isfinite(loss.value) and np.isfinite(preds.backwards_grad).all()
    np.testing.assert_array_equal(np.sign(preds.backwards_grad), [0, 0, -1, 1, -1, 1])


@checked
@given(st.integers(1, 5), st.integers(2, 5), st.sampled_from([1.0, 1000.0]), seeds)
def test_cross_entropy_with_labels_one_hot_and_probabilities(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    z, labels = scale * rng.standard_normal((n, c)), rng.integers(0, c, n)
    log_s = z - z.max(axis=1, keepdims=True)
    log_s = log_s - np.log(np.exp(log_s).sum(axis=1, keepdims=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = cross_entropy(z, labels)
    np.testing.assert_allclose(loss.value, -np.mean(log_s[np.arange(n), labels]), rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(z, np.eye(c)[labels]).value, loss.value, rtol=1e-12)
    np.testing.assert_allclose(cross_entropy(z, labels.astype(float)).value, loss.value, rtol=1e-15)
    logits = Tensor(z)
    cross_entropy(logits, labels).backward()
    np.testing.assert_allclose(logits.backwards_grad, (np.exp(log_s) - np.eye(c)[labels]) / n, atol=1e-15)
    z = rng.standard_normal((n, c))
    gradient_check(cross_entropy, Tensor(z), labels=labels)
    gradient_check(cross_entropy, Tensor(z), Tensor(rng.dirichlet(np.ones(c), n)))


def test_cross_entropy_matches_the_composed_graph():
    rng = np.random.default_rng(5)
    z, labels = rng.standard_normal((4, 4)), np.array([3, 0, 0, 2])
    single, composed = Tensor(z), Tensor(z)
    cross_entropy(single, labels).backward()
    (-F.log_softmax(composed, axis=1)[np.arange(4), labels].mean()).backward()
    np.testing.assert_allclose(single.backwards_grad, composed.backwards_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("f, preds, ys, message", [
    (mean_squared_error, np.ones((4, 1)), np.ones(4), r"mean_squared_error: preds of shape \(4, 1\) and ys of shape \(4,\)"),
    (mean_absolute_error, np.ones(3), np.ones((1, 3)), r"mean_absolute_error: preds of shape \(3,\) and ys of shape \(1, 3\)"),
    (binary_cross_entropy, np.full(2, 0.5), np.ones(3), r"binary_cross_entropy: preds of shape \(2,\) and ys of shape \(3,\)"),
    (binary_cross_entropy, np.array([0.5, -0.1]), np.ones(2), "binary_cross_entropy: preds must be probabilities in"),
    (binary_cross_entropy, np.array([0.5, np.nan]), np.ones(2), "preds must be probabilities .* and nan"),
    (binary_cross_entropy, np.array([0.5, 0.5]), np.array([2.0, 0.0]), "binary_cross_entropy: ys must be probabilities"),
    (cross_entropy, np.ones(3), [0], r"cross_entropy: logits must have shape \(N, C\), got shape \(3,\)"),
    (cross_entropy, np.ones((4, 3)), [0, 1, 2], r"logits of shape \(4, 3\) need labels of shape \(4,\) or \(4, 3\), got \(3,\)"),
    (cross_entropy, np.ones((4, 3)), np.ones((3, 4)), r"got \(3, 4\)"),
    (cross_entropy, np.ones((2, 3)), [0, 3], r"labels must be class indices in \[0, 2\] for 3 classes, got 3"),
    (cross_entropy, np.ones((2, 3)), [-1, 0], "got -1"),
    (cross_entropy, np.ones((2, 3)), [0.5, 1.0], "labels must be integer class indices, got 0.5"),
    (cross_entropy, np.ones((2, 3)), [np.nan, 1.0], "labels must be integer class indices, got nan"),
    (cross_entropy, np.ones((2, 3)), [True, False], "labels must be integer class indices"),
])
def test_loss_errors(f, preds, ys, message):
    with pytest.raises(ValueError, match=message):
        f(preds, ys)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("bad", [np.inf, np.nan, "all -inf"])
def test_softmax_is_refused_where_undefined(name, bad):
    x = np.random.default_rng(0).standard_normal((3, 4))
    if bad == "all -inf":
        x[1] = -np.inf
    else:
        x[1, 2] = bad
    f = getattr(F, name)
    with pytest.raises(ValueError, match=rf"^{name}: a slice along axes \(1,\) has no finite maximum"):
        f(Tensor(x))
    if bad == "all -inf":  # along axis 0 every column has a finite maximum: defined
        assert not np.isnan(f(Tensor(x), axis=0).value).any()


def test_logsumexp_gradient_is_refused_where_undefined():
    y = F.logsumexp(Tensor([[-np.inf, -np.inf], [1.0, 2.0]]), axis=1)
    assert y.value[0] == -np.inf
    with pytest.raises(ValueError, match="logsumexp: the gradient is undefined"):
        y.backward()


def test_cross_entropy_names_itself_where_softmax_is_undefined():
    with pytest.raises(ValueError, match=r"^cross_entropy: a slice along axes \(1,\) has no finite maximum"):
        cross_entropy(Tensor([[np.inf, 1.0], [0.0, 1.0]]), np.array([0, 1]))
