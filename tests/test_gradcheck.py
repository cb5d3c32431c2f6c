"""gradient_check itself: the seed's broadcast_to / summation cases pass, deliberately wrong rules are caught by name,
misuse is named, large values and float32 inputs are handled explicitly."""
import warnings

import numpy as np
import pytest

from mlfz.autodiff import Edge
from mlfz.gradcheck import finite_diff, gradient_check
from mlfz.nn.scalar import Scalar
from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.functional import broadcast_to, summation


def randn(*shape):
    return Tensor(np.random.default_rng(sum(shape) + len(shape)).standard_normal(shape))


# the cases of seed 000

@pytest.mark.parametrize("shape_in, shape_out", [((3, 1), (3, 3)), ((1, 3), (3, 3)), ((1,), (3, 3, 3)), ((), (3, 3, 3)),
                                                 ((5, 4, 1), (5, 4, 3))])
def test_broadcast_to_backward(shape_in, shape_out):
    x = randn(*shape_in)
    assert gradient_check(broadcast_to, x, shape=shape_out) < 1e-8
    assert x.backwards_grad.shape == shape_in


@pytest.mark.parametrize("shape, axes", [((5, 4), (1,)), ((5, 4), (0,)), ((5, 4), (0, 1)), ((5, 4), None),
                                         ((5, 4, 1), (0, 1)), ((5, 4, 1), (2,)), ((5, 4, 1), None), ((5, 4), 1)])
def test_summation_backward(shape, axes):
    x = randn(*shape)
    assert gradient_check(summation, x, axes=axes) < 1e-8
    assert x.backwards_grad.shape == shape


# finite differences

def test_finite_diff_central_differences():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    np.testing.assert_allclose(finite_diff(lambda v: np.sum(np.sin(v)), x), np.cos(x), rtol=1e-9)
    np.testing.assert_allclose(finite_diff(lambda v: v**3, np.array(2.0)), 12.0, rtol=1e-9)
    assert x[0, 0] == 0.3  # the input is not modified
    # a cubic: the central difference is exact up to round-off, the forward one is off by about 3 x h
    h = 1e-4
    central = finite_diff(lambda v: float(v**3), np.array(1.0), h)
    assert abs(central - 3.0) < 1e-7 and abs(((1 + h) ** 3 - 1) / h - 3.0) > 1e-4


# wrong rules: each must raise, naming the input

def column_sums_transposed(x):
    "y_j = sum_i x_ij with the gradient spread along rows instead of columns."
    rule = lambda node, _, prev: np.broadcast_to(node.backwards_grad[:, None], prev.shape)
    return Tensor(x.value.sum(axis=0), [Edge(x, None, rule)], "sum(axis=0)")


def divide_swapped(x, y):
    "x / y with x̄ = g / x (x and y swapped in the rule)."
    return Tensor(x.value / y.value, [Edge(x, None, lambda node, _, prev: node.backwards_grad / x.value),
                                      Edge(y, None, lambda node, _, prev: -node.backwards_grad * x.value / y.value**2)], "/")


def divide_wrong_sign(x, y):
    "x / y with ȳ = +g x / y² (sign lost): x is right, input 1 is wrong."
    return Tensor(x.value / y.value, [Edge(x, None, lambda node, _, prev: node.backwards_grad / y.value),
                                      Edge(y, None, lambda node, _, prev: node.backwards_grad * x.value / y.value**2)], "/")


def broadcast_without_reduction(x, shape):
    "broadcast_to whose backward forgets to sum the gradient back to the input's shape."
    return Tensor(np.broadcast_to(x.value, shape), [Edge(x, None, lambda node, _, prev: node.backwards_grad)], "broadcast")


def exp_with_missing_factor(x):
    "e^(2x) with the factor 2 of the chain rule forgotten."
    return Tensor(np.exp(2 * x.value), [Edge(x, None, lambda node, _, prev: node.backwards_grad * node.value)], "exp2")


def test_all_ones_upstream_would_miss_the_transposed_rule():
    x = randn(3, 3)
    column_sums_transposed(x).backward()  # all-ones upstream gradient
    np.testing.assert_array_equal(x.backwards_grad, np.ones((3, 3)))  # exactly right by accident
    with pytest.raises(AssertionError, match=r"gradient of input 0 of shape \(3, 3\) is wrong at index"):
        gradient_check(column_sums_transposed, x)


def test_equal_inputs_would_miss_the_swapped_division_rule():
    x, y = Tensor([0.5, 1.5, 2.5]), Tensor([0.5, 1.5, 2.5])
    assert gradient_check(divide_swapped, x, y) < 1e-6  # at x == y the wrong rule is right
    rng = np.random.default_rng(0)
    with pytest.raises(AssertionError, match="gradient of input 0 of shape"):
        gradient_check(divide_swapped, Tensor(rng.uniform(0.5, 2, 3)), Tensor(rng.uniform(0.5, 2, 3)))


def test_the_message_names_the_wrong_input_and_both_values():
    rng = np.random.default_rng(1)
    x, y = Tensor(rng.uniform(0.5, 2, (2, 3)), name="numerator"), Tensor(rng.uniform(0.5, 2, (2, 3)), name="denominator")
    with pytest.raises(AssertionError) as info:
        gradient_check(divide_wrong_sign, x, y)
    message = str(info.value)
    assert "input 1 ('denominator') of shape (2, 3)" in message
    assert "backward() gives" in message and "finite differences give" in message
    # the reported element is the worst one, and the values shown are the two gradients there
    index = tuple(int(i) for i in message.split("index (")[1].split(")")[0].split(","))
    got = y.backwards_grad  # the wrong rule's gradient; the right one is -got, so the error is largest where |got| is
    assert index == np.unravel_index(np.argmax(np.abs(got)), got.shape)
    assert f"backward() gives {got[index]:.6g}, finite differences give {-got[index]:.6g}" in message


def test_wrong_shape_and_missing_factor_are_caught():
    # the engine refuses the wrong shape at the edge, before gradient_check compares anything
    with pytest.raises(ValueError, match=r"'broadcast' sent a gradient of shape \(3, 3\) to its input of shape \(3, 1\)"):
        gradient_check(broadcast_without_reduction, randn(3, 1), shape=(3, 3))
    with pytest.raises(AssertionError, match="input 0"):
        gradient_check(exp_with_missing_factor, randn(2, 2))
    with pytest.raises(AssertionError, match="input 0"):
        gradient_check(exp_with_missing_factor, Tensor(np.array(0.3)))  # a 0-d input and a scalar output


def test_returns_the_largest_error_and_resets_stale_gradients():
    x, unused = randn(4), randn(2)
    unused.backwards_grad = np.ones(2)  # left over from an earlier backward pass
    error = gradient_check(lambda a, b: a * 3.0, x, unused)
    assert 0 <= error < 1e-8
    np.testing.assert_array_equal(unused.backwards_grad if unused.backwards_grad is not None else np.zeros(2), np.zeros(2))


def test_nan_gradient_fails():
    nan_rule = lambda x: Tensor(2 * x.value, [Edge(x, None, lambda node, _, prev: np.full(prev.shape, np.nan))], "nan")
    with pytest.raises(AssertionError, match="backward\\(\\) gives nan"):
        gradient_check(nan_rule, randn(3))


def test_inputs_are_restored():
    x = randn(2, 3)
    before = x.value.copy()
    gradient_check(summation, x, axes=(0,))
    np.testing.assert_array_equal(x.value, before)


# misuse: every mistake is named, never an AttributeError or a silent nan

def test_f_returning_a_non_tensor_is_a_type_error():
    with pytest.raises(TypeError, match=r"gradient_check: f = <lambda> returned a numpy\.ndarray, not a Tensor or Scalar"):
        gradient_check(lambda x: x.value * 2, randn(3))

    def total(x):
        return float(x.value.sum())
    with pytest.raises(TypeError, match=r"gradient_check: f = total returned a float, not a Tensor or Scalar"):
        gradient_check(total, randn(3))


@pytest.mark.parametrize("bad, type_name", [([1.0, 2.0], "list"), (np.ones(2), "numpy.ndarray"), (2.0, "float")])
def test_an_input_that_is_not_a_tensor_is_a_type_error(bad, type_name):
    with pytest.raises(TypeError, match=rf"gradient_check: input 1 is a {type_name}, not a Tensor or Scalar"):
        gradient_check(lambda x, y: x * y, randn(2), bad)


@pytest.mark.parametrize("h", [0, 0.0, -1e-6, np.nan, np.inf])
def test_finite_diff_refuses_a_step_that_is_not_positive_and_finite(h):
    with pytest.raises(ValueError, match=rf"finite_diff: h must be a finite number > 0, got {h!r}"):
        finite_diff(lambda v: float(np.sum(v**2)), np.ones(2), h)


@pytest.mark.parametrize("option, value, need", [("h", 0.0, "> 0"), ("h", np.nan, "> 0"), ("h", -1e-6, "> 0"),
                                                 ("atol", -1e-5, ">= 0"), ("atol", np.nan, ">= 0"),
                                                 ("rtol", -1e-4, ">= 0"), ("rtol", np.nan, ">= 0")])
def test_gradient_check_refuses_bad_steps_and_tolerances(option, value, need):
    with pytest.raises(ValueError, match=rf"gradient_check: {option} must be a finite number {need}, got {value!r}"):
        gradient_check(lambda x: x * 3.0, randn(3), **{option: value})


def test_a_step_or_tolerance_that_is_not_a_number_is_a_type_error():
    with pytest.raises(TypeError, match=r"finite_diff: h must be a number, got str"):
        finite_diff(np.sum, np.ones(2), "1e-6")
    with pytest.raises(TypeError, match=r"gradient_check: atol must be a number, got str"):
        gradient_check(lambda x: x * 3.0, randn(3), atol="0")
    gradient_check(lambda x: x * 3.0, randn(3), h=np.float32(1e-6), atol=0, rtol=np.float64(1e-4))  # NumPy numbers are numbers


# large values: the step is relative, h * max(1, |x_i|)

def test_the_step_is_h_up_to_one_and_relative_beyond():
    evaluated = []
    finite_diff(lambda v: evaluated.append(float(v)) or 0.0, np.array(0.5))
    assert evaluated == [0.5 + 1e-6, 0.5 - 1e-6]  # |x| <= 1: the absolute step h, as in the formula
    evaluated.clear()
    finite_diff(lambda v: evaluated.append(float(v)) or 0.0, np.array(-3e10))
    assert evaluated == [-3e10 + 3e4, -3e10 - 3e4]  # |x| > 1: h |x|


def test_large_values_do_not_fail_a_correct_rule():
    # at 1e10 neighbouring float64 values are 1.9e-6 apart: a fixed step of 1e-6 really is one of 1.9e-6, and
    # the change it makes in a sum of squares of about 1e21 is lost in the rounding of the sum
    x = Tensor([1e10, -3e10, 2.5e10])
    np.testing.assert_allclose(finite_diff(lambda v: np.sum(v**2), x.value), 2 * x.value, rtol=1e-8)
    assert gradient_check(lambda x: x * x, x) <= 1e-8 * np.max(np.abs(x.value))
    # mixed scales in one array: each element gets its own step
    mixed = np.array([1e10, -3e10, 0.5, -2.0])
    np.testing.assert_allclose(finite_diff(lambda v: np.sum(np.log(np.abs(v))), mixed), 1 / mixed, rtol=1e-6)


# float32: a tensor keeps its dtype, so its finite differences are float32, too coarse: warned about and named

def test_a_float32_input_is_warned_about_by_position_and_dtype():
    x32 = Tensor(np.array([0.5, 1.5, -2.0], dtype=np.float32), name="w")
    with pytest.warns(UserWarning, match=r"gradient_check: input 1 \('w'\) of shape \(3,\) is float32"), \
            pytest.raises(AssertionError, match=r"input 1 \('w'\).*\(in float32: see the warning\)"):
        gradient_check(lambda a, b: a * b, randn(3), x32)
    with pytest.warns(UserWarning, match="is float16"), pytest.raises(AssertionError, match="in float16"):
        gradient_check(lambda a: a * 2.0, Tensor(np.array([0.3, 1.7], dtype=np.float16)))


def test_float64_inputs_and_scalars_are_not_warned_about():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradient_check(lambda a, b: a * b, randn(3), randn(3))
        gradient_check(lambda a, b: a * b, Scalar(0.5), Scalar(2.0))


def test_a_correct_rule_fails_in_float32_and_passes_in_float64():
    x32 = Tensor(np.array([0.5, 1.5, -2.0], dtype=np.float32))
    with pytest.warns(UserWarning, match="float32"), pytest.raises(AssertionError, match="input 0"):
        gradient_check(lambda x: x * x, x32)
    assert gradient_check(lambda x: x * x, Tensor(x32.value.astype(np.float64))) < 1e-8
