"""mlfz.nn.init against torch.nn.init's formulas, worked out by hand here (torch is not needed): bounds and
standard deviations, checked on large samples with loose tolerances; shapes, dtypes, the generator, errors."""
import math

import numpy as np
import pytest

import mlfz
from mlfz.nn.init import (calculate_gain, kaiming_normal, kaiming_uniform, normal, uniform, xavier_normal,
                          xavier_uniform)
from mlfz.nn.tensor.core import generator


def rng(seed=0):
    return np.random.default_rng(seed)


def check_uniform(w, bound):
    "Samples of U(-bound, bound): inside it, reaching its ends, with its mean and standard deviation."
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.995 * bound
    assert abs(w.mean()) < 0.02 * bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.02)


def check_normal(w, std):
    assert abs(w.mean()) < 0.02 * std
    np.testing.assert_allclose(w.std(), std, rtol=0.02)
    inside = np.mean(np.abs(w) < std)
    assert abs(inside - 0.6827) < 0.01  # normal, not uniform: 68% within one std


# torch.nn.init.calculate_gain, value by value

@pytest.mark.parametrize("nonlinearity, param, gain", [
    ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0), ("conv_transpose3d", None, 1.0),
    ("sigmoid", None, 1.0), ("tanh", None, 5.0 / 3), ("relu", None, math.sqrt(2.0)),
    ("relu", 0.3, math.sqrt(2.0)),  # the parameter only matters for leaky_relu
    ("leaky_relu", None, math.sqrt(2.0 / (1 + 0.01**2))), ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)),
    ("leaky_relu", 0, math.sqrt(2.0)), ("leaky_relu", math.sqrt(5), math.sqrt(1 / 3)),
    ("selu", None, 0.75),
])
def test_calculate_gain(nonlinearity, param, gain):
    assert calculate_gain(nonlinearity, param) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_refuses_what_torch_refuses():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        calculate_gain("gelu")
    for slope in ["0.1", True, [0.1]]:
        with pytest.raises(ValueError, match="negative_slope .* is not a number"):
            calculate_gain("leaky_relu", slope)


# the four rules: bounds and standard deviations by hand

@pytest.mark.parametrize("fan_in, fan_out", [(400, 300), (300, 400), (1000, 50)])
@pytest.mark.parametrize("gain", [1.0, 5.0 / 3])
def test_xavier(fan_in, fan_out, gain):
    w = xavier_uniform(fan_in, fan_out, gain=gain, rng=rng(1))
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float64
    check_uniform(w, gain * math.sqrt(6.0 / (fan_in + fan_out)))
    w = xavier_normal(fan_in, fan_out, gain=gain, rng=rng(2))
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float64
    check_normal(w, gain * math.sqrt(2.0 / (fan_in + fan_out)))


@pytest.mark.parametrize("fan_in, fan_out", [(400, 300), (50, 1000)])
@pytest.mark.parametrize("nonlinearity, a, gain", [
    ("relu", 0.0, math.sqrt(2.0)), ("tanh", 0.0, 5.0 / 3), ("linear", 0.0, 1.0),
    ("leaky_relu", 0.0, math.sqrt(2.0)),  # torch's kaiming passes a=0 as the slope
    ("leaky_relu", 0.1, math.sqrt(2.0 / 1.01)),
])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(fan_in, fan_out, nonlinearity, a, gain, mode):
    fan = fan_in if mode == "fan_in" else fan_out
    w = kaiming_uniform(fan_in, fan_out, nonlinearity, a=a, mode=mode, rng=rng(3))
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float64
    check_uniform(w, gain * math.sqrt(3.0 / fan))
    w = kaiming_normal(fan_in, fan_out, nonlinearity, a=a, mode=mode, rng=rng(4))
    assert w.shape == (fan_in, fan_out) and w.dtype == np.float64
    check_normal(w, gain / math.sqrt(fan))


def test_kaiming_defaults_are_relu_and_fan_in():
    np.testing.assert_array_equal(kaiming_uniform(300, 200, rng=rng(5)),
                                  kaiming_uniform(300, 200, "relu", 0.0, "fan_in", rng=rng(5)))
    check_uniform(kaiming_uniform(300, 200, rng=rng(6)), math.sqrt(6.0 / 300))
    check_normal(kaiming_normal(300, 200, rng=rng(7)), math.sqrt(2.0 / 300))


def test_linear_default_is_kaiming_uniform_with_a_sqrt5():
    check_uniform(kaiming_uniform(250, 400, "leaky_relu", a=math.sqrt(5), rng=rng(8)), 1 / math.sqrt(250))


def test_uniform_and_normal():
    u = uniform((200, 500), low=-1.0, high=3.0, rng=rng(9))
    assert u.shape == (200, 500) and u.dtype == np.float64
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.01 and abs(u.std() - 4 / math.sqrt(12)) < 0.01
    assert uniform(5, rng=rng()).shape == (5,) and uniform((), rng=rng()).shape == ()
    assert 0 <= uniform(1000, rng=rng()).min() and uniform(1000, rng=rng()).max() < 1  # U(0, 1)
    g = normal((200, 500), mean=-2.0, std=3.0, rng=rng(10))
    assert g.shape == (200, 500) and abs(g.mean() + 2) < 0.03 and abs(g.std() - 3) < 0.02
    s = normal(100_000, rng=rng(11))
    assert abs(s.mean()) < 0.01 and abs(s.std() - 1) < 0.01  # N(0, 1)
    assert (normal(3, std=0.0, rng=rng()) == 0).all()


# the generator

def test_rng_none_draws_from_the_library_generator():
    for draw in [lambda: uniform((3, 2)), lambda: normal(4), lambda: xavier_uniform(3, 2),
                 lambda: xavier_normal(3, 2), lambda: kaiming_uniform(3, 2), lambda: kaiming_normal(3, 2)]:
        mlfz.manual_seed(123)
        first = draw()
        mlfz.manual_seed(123)
        np.testing.assert_array_equal(draw(), first)
        assert not np.array_equal(draw(), first)  # the generator moved on
    mlfz.manual_seed(5)
    expected = np.random.default_rng(5).uniform(-0.5, 0.5, (2, 2))
    np.testing.assert_array_equal(uniform((2, 2), -0.5, 0.5), expected)
    assert isinstance(generator(), np.random.Generator)


def test_rng_is_used_when_given():
    np.testing.assert_array_equal(kaiming_normal(4, 3, rng=rng(2)), kaiming_normal(4, 3, rng=rng(2)))
    np.testing.assert_array_equal(normal((4, 3), rng=rng(2)), rng(2).normal(0.0, 1.0, (4, 3)))


# errors

@pytest.mark.parametrize("call, error, text", [
    (lambda: xavier_uniform(0, 3), ValueError, "xavier_uniform: fan_in must be a positive integer, got 0"),
    (lambda: xavier_normal(3, -2), ValueError, "xavier_normal: fan_out must be a positive integer, got -2"),
    (lambda: kaiming_uniform(2.5, 3), ValueError, "kaiming_uniform: fan_in must be a positive integer"),
    (lambda: kaiming_normal(3, 3, mode="fan_avg"), ValueError, "mode must be 'fan_in' or 'fan_out'"),
    (lambda: kaiming_normal(3, 3, "swish"), ValueError, "unsupported nonlinearity 'swish'"),
    (lambda: uniform(3, 2.0, 1.0), ValueError, "uniform: low must not exceed high"),
    (lambda: uniform(3, "0", 1.0), TypeError, "uniform: low must be a real number"),
    (lambda: normal(3, std=-0.1), ValueError, "normal: std must be non-negative"),
    (lambda: normal((2, -3)), ValueError, "normal: a shape is a tuple of non-negative integers"),
    (lambda: normal("3"), ValueError, "a shape is a tuple"),
    (lambda: xavier_uniform(2, 2, gain=None), TypeError, "xavier_uniform: gain must be a real number"),
    (lambda: kaiming_uniform(2, 2, rng=7), TypeError, "kaiming_uniform: rng must be a np.random.Generator"),
])
def test_errors_name_the_function_and_the_value(call, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(")):
        call()
