"""Property tests of `mlfz.nn.scalar`: gradients of random expressions against finite differences, the domain
errors and the overflow policy, what a Scalar accepts, and the losses, models and gradient descent of chapter 5."""
import math
import random
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlfz.autodiff import topological_order
from mlfz.gradcheck import gradient_check
from mlfz.nn.scalar import (GradientDescent, Model, Scalar, binary_cross_entropy, cos, exp, log,
                            mean_squared_error, relu, sigmoid, sin, tanh)
from mlfz.nn.tensor import Tensor

N_VARIABLES = 3
MARGIN = 0.1  # distance kept from singularities, so that finite differences stay accurate
LIMIT = 1e3   # largest intermediate value allowed, for the same reason
# every property test runs with deadline=None: timings on a loaded machine are not what we test


class Rejected(Exception):
    "An expression evaluated too close to a singularity or too large for finite differences."


def require(condition):
    if not condition:
        raise Rejected


def safe_div(a, b):
    require(abs(b.value if isinstance(b, Scalar) else b) > MARGIN)
    return a / b


def safe_log(a):
    require(a.value > MARGIN)
    return log(a)


def safe_relu(a):
    require(abs(a.value) > MARGIN)  # away from the kink
    return relu(a)


def safe_pow(a, b):
    base = a.value if isinstance(a, Scalar) else a
    exponent = b.value if isinstance(b, Scalar) else b
    # a Scalar exponent needs a positive base; a constant one a positive base or an integer exponent
    integer = not isinstance(b, Scalar) and float(exponent).is_integer()
    require(base > MARGIN or (integer and (exponent >= 0 or abs(base) > MARGIN)))
    # decided before computing: a larger power may overflow, which test_overflow_* check on their own
    require(base == 0 or exponent * math.log(abs(base)) < math.log(LIMIT))
    return a**b


def safe_exp(a):
    require(a.value < math.log(LIMIT))  # before computing, as in safe_pow
    return exp(a)


UNARY = {"neg": lambda a: -a, "sin": sin, "cos": cos, "tanh": tanh, "sigmoid": sigmoid, "exp": safe_exp,
         "log": safe_log, "relu": safe_relu, "sqrt": lambda a: safe_pow(a, 0.5), "square": lambda a: safe_pow(a, 2),
         "cube": lambda a: safe_pow(a, 3), "2**": lambda a: safe_pow(2.0, a)}
BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": safe_div, "**": safe_pow}

leaves = st.one_of(
    st.tuples(st.just("var"), st.integers(0, N_VARIABLES - 1)),
    st.tuples(st.just("const"), st.floats(-3, 3).filter(lambda c: abs(c) > MARGIN)),
)
expressions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), inner),
        st.tuples(st.sampled_from(sorted(BINARY)), inner, inner),
    ),
    max_leaves=8,
)
variable_values = st.lists(st.floats(-2, 2), min_size=N_VARIABLES, max_size=N_VARIABLES)


def evaluate(expression, variables):
    "The value of `expression`, a `Scalar` when it depends on a variable, else a number."
    kind, *args = expression
    if kind == "var":
        return variables[args[0]]
    if kind == "const":
        return args[0]
    operands = [evaluate(arg, variables) for arg in args]
    if not any(isinstance(x, Scalar) for x in operands):  # constant subexpressions are ordinary arithmetic
        operands[0] = Scalar(operands[0])
    result = (UNARY if len(operands) == 1 else BINARY)[kind](*operands)
    require(abs(result.value) < LIMIT)
    return result


def as_scalar(x):
    return x if isinstance(x, Scalar) else Scalar(x)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(expressions, variable_values)
def test_gradients_match_finite_differences(expression, values):
    variables = [Scalar(v) for v in values]
    try:
        evaluate(expression, variables)
    except Rejected:
        assume(False)
    gradient_check(lambda *xs: as_scalar(evaluate(expression, xs)), *variables)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(expressions, variable_values, st.floats(-3, 3).filter(lambda g: abs(g) > MARGIN))
def test_seed_scales_gradients_and_backward_repeats(expression, values, seed):
    variables = [Scalar(v) for v in values]
    try:
        out = as_scalar(evaluate(expression, variables))
    except Rejected:
        assume(False)
    out.backward()
    unit = [x.backwards_grad for x in variables]
    out.backward()
    assert [x.backwards_grad for x in variables] == unit  # zero_grad: the same gradients again
    reached = [(x, g) for x, g in zip(variables, unit) if g is not None]  # unused variables stay None
    out.backward(seed)
    for x, g in reached:
        assert x.backwards_grad == pytest.approx(seed * g, rel=1e-9, abs=1e-9)  # abs: sums that cancel to ~0
    out.backward(zero_grad=False)
    for x, g in reached:
        assert x.backwards_grad == pytest.approx((seed + 1) * g, rel=1e-9, abs=1e-9)  # abs: sums that cancel to ~0


# --- hand derivations where a wrong rule would show ---

@settings(deadline=None)
@given(st.floats(-3, 3))
def test_two_to_the_x(a):
    x = Scalar(a)
    (2**x).backward()
    assert x.backwards_grad == pytest.approx(2**a * math.log(2))


@settings(deadline=None)
@given(st.floats(0.1, 3))
def test_x_to_the_x(a):
    x = Scalar(a)
    (x**x).backward()
    assert x.backwards_grad == pytest.approx(a**a * (math.log(a) + 1))


@settings(deadline=None)
@given(st.floats(0.1, 3), st.floats(-3, 3))
def test_x_to_the_y(a, b):
    x, y = Scalar(a), Scalar(b)
    (x**y).backward()
    assert x.backwards_grad == pytest.approx(b * a ** (b - 1))
    assert y.backwards_grad == pytest.approx(a**b * math.log(a))


@settings(deadline=None)
@given(st.floats(-3, 3), st.floats(0.2, 3), st.booleans())
def test_division(a, b, negative):
    b = -b if negative else b
    x, y = Scalar(a), Scalar(b)
    (x / y).backward()
    assert x.backwards_grad == pytest.approx(1 / b)
    assert y.backwards_grad == pytest.approx(-a / b**2)


def test_tiny_divisor_is_not_a_division_by_zero():
    x, y = Scalar(1e-150), Scalar(1e-200)  # y**2 underflows to 0; the derivative must not divide by it
    (x / y).backward()
    assert x.backwards_grad == pytest.approx(1e200) and y.backwards_grad == pytest.approx(-1e250)


def test_reused_value_accumulates():
    x = Scalar(1.5)
    (x * x * x + x).backward()
    assert x.backwards_grad == pytest.approx(3 * 1.5**2 + 1)


def test_constants_make_no_nodes():
    x = Scalar(2.0)
    f = 3 * x + 1
    assert len(topological_order(f)) == 3 and f.op == "+ 1" and f.prevs[0].prev.op == "3 *"
    assert (2 + Scalar(1.0) * 0).prevs[0].prev.prevs[0].local_grad == 0.0


def test_deep_chain():
    x = first = Scalar(1.0)
    for _ in range(100_000):
        x = x + 0.5
    x.backward()
    assert first.backwards_grad == 1.0 and x.value == 50_001.0


@settings(deadline=None)
@given(st.floats(-1e3, 1e3))
def test_sigmoid_and_tanh_stay_finite(a):
    for function in (sigmoid, tanh):
        x = Scalar(a)
        y = function(x)
        y.backward()
        assert math.isfinite(y.value) and math.isfinite(x.backwards_grad)
    assert 0.0 <= sigmoid(Scalar(a)).value <= 1.0


# --- out of the domain: a ValueError naming the problem, never nan ---

@settings(deadline=None)
@given(st.floats(-1e6, 0))
def test_log_of_non_positive(a):
    with pytest.raises(ValueError, match="log of a non-positive number"):
        log(Scalar(a))


@settings(deadline=None)
@given(st.floats(-1e3, 1e3))
def test_division_by_zero(a):
    for compute in (lambda: Scalar(a) / Scalar(0.0), lambda: Scalar(a) / 0, lambda: a / Scalar(0.0)):
        with pytest.raises(ValueError, match="division by zero"):
            compute()


@settings(deadline=None)
@given(st.floats(-10, -0.01), st.floats(-3, 3).filter(lambda e: not e.is_integer()))
def test_negative_base_non_integer_exponent(base, exponent):
    for compute in (lambda: Scalar(base) ** exponent, lambda: base ** Scalar(exponent),
                    lambda: Scalar(base) ** Scalar(exponent)):
        with pytest.raises(ValueError, match="negative base needs an integer exponent"):
            compute()


@settings(deadline=None)
@given(st.floats(-10, -0.01), st.integers(-3, 3))
def test_negative_base_scalar_exponent(base, exponent):
    x = Scalar(base)
    (x**exponent).backward()  # a constant integer exponent is fine
    assert x.backwards_grad == pytest.approx(exponent * base ** (exponent - 1))
    with pytest.raises(ValueError, match="positive base"):
        Scalar(base) ** Scalar(float(exponent))


@pytest.mark.parametrize("exponent", [-1, -0.5, -2.0])
def test_zero_to_negative_power(exponent):
    with pytest.raises(ValueError, match="division by zero"):
        Scalar(0.0) ** exponent


def test_zero_base_edges():
    with pytest.raises(ValueError, match="infinite at 0"):
        Scalar(0.0) ** 0.5
    with pytest.raises(ValueError, match="positive base"):
        Scalar(0.0) ** Scalar(0.0)
    x, y = Scalar(0.0), Scalar(1.5)
    z = x**y
    z.backward()
    assert (z.value, x.backwards_grad, y.backwards_grad) == (0.0, 0.0, 0.0)
    x = Scalar(0.0)
    (x**0).backward()
    assert x.backwards_grad == 0.0


def test_other_operand_types_are_declined():
    with pytest.raises(TypeError, match="'Scalar' and 'str'"):
        Scalar(1.0) + "1"
    with pytest.raises(TypeError):
        [1] * Scalar(2.0)


# --- too large for a float: inf with a RuntimeWarning naming the operation; a fresh nan is an error ---

@pytest.mark.parametrize("compute, expression, result", [
    (lambda: Scalar(16.0) ** 286.247, "16 ** 286.247", math.inf),  # the draw that made the property test flaky
    (lambda: 16.0 ** Scalar(286.247), "16 ** 286.247", math.inf),
    (lambda: Scalar(16.0) ** Scalar(286.247), "16 ** 286.247", math.inf),
    (lambda: Scalar(-2.0) ** 1025, "-2 ** 1025", -math.inf),
    (lambda: exp(Scalar(1000.0)), "exp(1000)", math.inf),
    (lambda: Scalar(1e308) * 10, "1e+308 * 10", math.inf),
    (lambda: Scalar(1e308) + Scalar(1e308), "1e+308 + 1e+308", math.inf),
    (lambda: -1e308 - Scalar(1e308), "-1e+308 - 1e+308", -math.inf),
    (lambda: Scalar(1e300) / 1e-10, "1e+300 / 1e-10", math.inf),
])
def test_overflow_gives_inf_with_a_warning(compute, expression, result):
    with pytest.warns(RuntimeWarning, match=re.escape(f"overflow in {expression}: the result is {result}")):
        out = compute()
    assert out.value == result


def test_overflow_warning_points_at_the_callers_line():
    with pytest.warns(RuntimeWarning) as caught:
        Scalar(1e308) * 10
        exp(Scalar(1000.0))
    assert [w.filename for w in caught] == [__file__, __file__]


def test_overflowing_derivatives_are_inf():
    x = Scalar(16.0)
    with pytest.warns(RuntimeWarning):
        y = x**286.247
    y.backward()
    assert x.backwards_grad == math.inf
    x = Scalar(0.5)  # 0.5 ** -1023 fits in a float, its derivative 1023 * 0.5 ** -1024 does not
    y = x**-1023.0
    y.backward()
    assert math.isfinite(y.value) and x.backwards_grad == -math.inf


@pytest.mark.parametrize("compute, message", [
    (lambda: Scalar(math.inf) - math.inf, "inf - inf is undefined"),
    (lambda: Scalar(math.inf) + Scalar(-math.inf), "inf + -inf is undefined"),
    (lambda: Scalar(math.inf) * 0, "inf * 0 is undefined"),
    (lambda: Scalar(math.inf) / Scalar(math.inf), "inf / inf is undefined"),
    (lambda: sin(Scalar(math.inf)), "sin(inf) is undefined"),
    (lambda: cos(Scalar(-math.inf)), "cos(-inf) is undefined"),
])
def test_a_fresh_nan_is_an_error(compute, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        compute()


def test_infinities_and_nans_carry_on_without_a_new_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (Scalar(math.inf) + 1).value == math.inf
        assert (exp(Scalar(math.inf))).value == math.inf
        assert math.isnan((Scalar(math.nan) * 2).value)  # a nan typed in is passed on, as by floats


# --- what a Scalar holds: one real number ---

@pytest.mark.parametrize("value", ["1.5", None, 1j, [1.0, 2.0], np.ones(2), np.array([1.5]),
                                   np.array(1 + 2j), Tensor(np.ones(2)), Scalar(1.0)])
def test_scalar_holds_a_real_number(value):
    with pytest.raises(TypeError, match="^Scalar: a Scalar holds a real number, got "):
        Scalar(value)


def test_scalar_error_messages_show_the_value():
    with pytest.raises(TypeError, match=re.escape("got '1.5' (str)")):
        Scalar("1.5")
    with pytest.raises(TypeError, match=re.escape("got None")):
        Scalar(None)
    with pytest.raises(TypeError, match=re.escape("got 1j (complex)")):
        Scalar(1j)
    with pytest.raises(TypeError, match=re.escape("got ndarray of shape (2,); Scalars and Tensors don't mix")):
        Scalar(np.ones(2))
    with pytest.raises(ValueError, match="Scalar: .* is too large for a float"):
        Scalar(10**400)


@pytest.mark.parametrize("value, expected", [
    (2, 2.0), (-3.25, -3.25), (True, 1.0), (False, 0.0), (Fraction(1, 4), 0.25), (np.float32(0.5), 0.5),
    (np.int64(7), 7.0), (np.True_, 1.0), (np.array(2.5), 2.5), (math.inf, math.inf)])
def test_real_numbers_become_floats(value, expected):
    x = Scalar(value)
    assert type(x.value) is float and x.value == expected


def test_backward_seed_is_a_real_number():
    x = Scalar(2.0)
    y = x * 3
    with pytest.raises(TypeError, match=re.escape("backward: the gradient to start from must be a real number, "
                                                  "got [1.0, 2.0] (list)")):
        y.backward([1.0, 2.0])
    assert x.backwards_grad is None  # nothing was stored
    for seed in ("1", None.__class__, np.ones(2)):
        with pytest.raises(TypeError, match="^backward: "):
            y.backward(seed)
    y.backward(np.float64(2.0))
    assert x.backwards_grad == 6.0 and type(x.backwards_grad) is float


@pytest.mark.parametrize("array", [np.ones(3), np.array([[1.0]]), Tensor(np.ones(3)), Tensor(np.ones((2, 2)))])
@pytest.mark.parametrize("symbol", ["+", "-", "*", "/", "**"])
def test_scalars_and_tensors_dont_mix(array, symbol):
    x = Scalar(1.5)
    operation = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
                 "/": lambda a, b: a / b, "**": lambda a, b: a**b}[symbol]
    message = re.escape(f"{symbol}: Scalar and {type(array).__name__} of shape {array.shape}: "
                        "Scalars and Tensors don't mix")
    with pytest.raises(TypeError, match=message):
        operation(x, array)
    if isinstance(array, np.ndarray):  # with a Tensor on the left, the Tensor's own method answers
        with pytest.raises(TypeError, match=message):
            operation(array, x)


@pytest.mark.parametrize("function", [exp, log, sin, cos, tanh, sigmoid, relu])
def test_functions_take_scalars_or_real_numbers(function):
    name = function.__name__
    with pytest.raises(TypeError, match=f"^{name}: expected a Scalar or a real number, got '1' \\(str\\)"):
        function("1")
    with pytest.raises(TypeError, match=f"^{name}: .*Scalars and Tensors don't mix"):
        function(np.ones(2))
    assert function(0.5).value == function(Scalar(0.5)).value and function(0.5).prevs == []


def test_numpy_numbers_are_constants():
    x = Scalar(2.0)
    for left in (np.float64(3.0), np.float32(3.0), np.int64(3), np.array(3.0)):
        y = left * x
        assert type(y) is Scalar and y.value == 6.0
        y.backward()
        assert x.backwards_grad == 3.0
    with pytest.raises(ValueError, match=re.escape("+: ") + ".* is too large for a float"):
        x + 10**400


# --- from_random and gradient_update ---

@settings(deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(1e-9, 1e6), st.integers(0, 2**32 - 1))
def test_from_random_stays_in_the_half_open_interval(lower, width, seed):
    upper = lower + width
    assume(lower < upper)
    random.seed(seed)
    x = Scalar.from_random(lower, upper)
    assert lower <= x.value < upper and x.prevs == [] and x.backwards_grad is None
    random.seed(seed)
    assert Scalar.from_random(lower, upper).value == x.value


def test_from_random_covers_its_interval():
    random.seed(1)
    values = [Scalar.from_random(-2, 3).value for _ in range(2000)]
    assert min(values) < -1.95 and max(values) > 2.95 and abs(np.mean(values) - 0.5) < 0.1
    assert all(0 <= Scalar.from_random().value < 1 for _ in range(100))


@pytest.mark.parametrize("lower, upper, error", [
    (1, 1, ValueError), (2, 1, ValueError), (0, math.inf, ValueError), (math.nan, 1, ValueError),
    ("0", 1, TypeError), (0, None, TypeError)])
def test_from_random_refuses_bad_bounds(lower, upper, error):
    with pytest.raises(error, match="^from_random: "):
        Scalar.from_random(lower, upper)


def test_gradient_update():
    w = Scalar(2.0)
    ((3 * w - 1) ** 2).backward()  # derivative 6 (3w - 1) = 30
    w.gradient_update(0.01)
    assert w.value == pytest.approx(1.7)
    w.gradient_update(np.float32(0.5))
    assert w.value == pytest.approx(1.7 - 15) and type(w.value) is float


@pytest.mark.parametrize("lr, error, message", [
    ("0.1", TypeError, "the learning rate must be a real number, got '0.1' (str)"),
    (None, TypeError, "the learning rate must be a real number, got None"),
    (np.ones(2), TypeError, "the learning rate must be a real number, got ndarray of shape (2,)"),
    (math.nan, ValueError, "the learning rate must be finite, got nan"),
    (math.inf, ValueError, "the learning rate must be finite, got inf"),
])
def test_gradient_update_needs_a_real_learning_rate(lr, error, message):
    w = Scalar(2.0)
    (w * w).backward()
    with pytest.raises(error, match="^" + re.escape(f"gradient_update: {message}")):
        w.gradient_update(lr)
    assert w.value == 2.0


def test_gradient_update_needs_a_gradient():
    with pytest.raises(RuntimeError, match=re.escape("gradient_update: Scalar(1) has no gradient yet")):
        Scalar(1.0).gradient_update(0.1)


def test_gradient_update_refuses_a_nan_step():
    w = Scalar(math.inf)
    (w * 2).backward()  # gradient 2: inf - 0.1 * 2 is inf, carried on
    w.gradient_update(0.1)
    assert w.value == math.inf
    w.backwards_grad = math.inf
    with pytest.raises(ValueError, match=re.escape("inf - 0.1 * inf is undefined")):
        w.gradient_update(0.1)


# --- losses ---

probabilities = st.floats(0.02, 0.98)


@settings(deadline=None, max_examples=50)
@given(st.lists(st.tuples(probabilities, probabilities), min_size=1, max_size=6))  # inside: room for the finite differences
def test_binary_cross_entropy_gradients(pairs):
    preds = [Scalar(p) for p, _ in pairs]
    ys = [Scalar(y) for _, y in pairs]
    loss = binary_cross_entropy(preds, ys)
    expected = -np.mean([y.value * math.log(p.value) + (1 - y.value) * math.log(1 - p.value)
                         for p, y in zip(preds, ys)])
    assert loss.value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    gradient_check(lambda *xs: binary_cross_entropy(xs[:len(preds)], xs[len(preds):]), *preds, *ys)


@settings(deadline=None, max_examples=50)
@given(st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=6))
def test_mean_squared_error_gradients(pairs):
    preds = [Scalar(p) for p, _ in pairs]
    ys = [y for _, y in pairs]
    loss = mean_squared_error(preds, ys)
    assert loss.value == pytest.approx(np.mean([(p - y) ** 2 for p, y in pairs]), rel=1e-12, abs=1e-12)
    gradient_check(lambda *xs: mean_squared_error(xs, ys), *preds)


@settings(deadline=None)
@given(st.lists(st.tuples(st.floats(-60, 60), st.sampled_from([0, 1])), min_size=1, max_size=6))
def test_binary_cross_entropy_on_a_sigmoid_sends_p_minus_y_to_the_logit(pairs):
    zs = [Scalar(z) for z, _ in pairs]
    ys = [y for _, y in pairs]
    loss = binary_cross_entropy([sigmoid(z) for z in zs], ys)
    loss.backward()
    assert math.isfinite(loss.value) and 0 <= loss.value <= 100
    for z, y in zip(zs, ys):
        p = sigmoid(z).value
        exact = (p - y) / len(zs)
        if p * (1 - p) >= 1e-12:
            assert z.backwards_grad == pytest.approx(exact, rel=1e-6, abs=1e-12)
        else:  # p (1 - p) floored at 1e-12, as in PyTorch (|z| > 27.6): smaller, the same sign
            assert abs(z.backwards_grad) <= abs(exact) * (1 + 1e-9) and z.backwards_grad * exact >= 0


def test_binary_cross_entropy_at_the_ends():
    assert binary_cross_entropy([Scalar(1.0), Scalar(0.0)], [1, 0]).value == 0.0
    p = Scalar(0.0)
    loss = binary_cross_entropy([p], [1.0])
    loss.backward()
    assert loss.value == 100.0 and -math.inf < p.backwards_grad < 0  # large, finite, towards 1
    assert binary_cross_entropy([1e-300], [1.0]).value == 100.0  # the log clamped at -100


@pytest.mark.parametrize("preds, ys, error, message", [
    ([Scalar(0.5), Scalar(1.2)], [1, 1], ValueError, "preds[1] = 1.2 is not a probability in [0, 1] (apply sigmoid"),
    ([Scalar(-0.1)], [1], ValueError, "preds[0] = -0.1 is not a probability"),
    ([Scalar(math.nan)], [1], ValueError, "preds[0] = nan is not a probability"),
    ([Scalar(0.5)], [2], ValueError, "ys[0] = 2 is not a probability in [0, 1]"),
    ([Scalar(0.5)], ["1"], TypeError, "expected a Scalar or a real number, got '1' (str)"),
    ([Scalar(0.5)], [1, 0], ValueError, "1 predictions but 2 targets"),
    ([], [], ValueError, "no predictions"),
    (Scalar(0.5), [1], TypeError, "expects lists of predictions and targets, got a single Scalar"),
    (0.5, 1, TypeError, "expects lists of predictions and targets, got float and int"),
])
def test_binary_cross_entropy_errors(preds, ys, error, message):
    with pytest.raises(error, match="^" + re.escape(f"binary_cross_entropy: {message}")):
        binary_cross_entropy(preds, ys)


def test_mean_squared_error_errors():
    with pytest.raises(ValueError, match=re.escape("mean_squared_error: 2 predictions but 1 targets")):
        mean_squared_error([Scalar(1.0), Scalar(2.0)], [1.0])
    with pytest.raises(ValueError, match="mean_squared_error: no predictions"):
        mean_squared_error([], [])
    with pytest.raises(TypeError, match="mean_squared_error: .* single Scalar"):
        mean_squared_error([Scalar(1.0)], Scalar(1.0))


# --- Model and GradientDescent ---

class Line(Model):
    def __init__(self, w=0.0, b=0.0):
        self.w, self.b = Scalar(w), Scalar(b)

    def forward(self, x):
        return self.w * x + self.b

    def parameters(self):
        return {"w": self.w, "b": self.b}


def test_gradient_descent_fits_a_line():
    rng = np.random.default_rng(3)
    xs = rng.uniform(-2, 2, 15)
    ys = -0.8 * xs + 0.3 + rng.normal(0, 0.1, 15)
    line = Line()
    losses = GradientDescent(line, mean_squared_error).run(xs, ys, lr=0.1, n_steps=200)
    assert len(losses) == 200 and all(b <= a + 1e-15 for a, b in zip(losses, losses[1:]))
    slope, intercept = np.polyfit(xs, ys, 1)
    assert line.w.value == pytest.approx(slope, abs=1e-6) and line.b.value == pytest.approx(intercept, abs=1e-6)
    assert GradientDescent(line, mean_squared_error).run(xs, ys, n_steps=0) == []


def test_gradient_descent_defaults():
    line = Line()
    losses = GradientDescent(line, mean_squared_error).run([1.0], [2.0])  # lr=0.01, n_steps=1000
    assert len(losses) == 1000 and line(1.0).value == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize("n_steps, error", [(2.5, TypeError), ("3", TypeError), (-1, ValueError)])
def test_gradient_descent_needs_a_number_of_steps(n_steps, error):
    with pytest.raises(error, match="^GradientDescent.run: n_steps"):
        GradientDescent(Line(), mean_squared_error).run([1.0], [2.0], n_steps=n_steps)


def test_model_is_abstract():
    with pytest.raises(TypeError):
        Model()


def test_model_parameters_round_trip():
    line = Line(1.5, -0.5)
    assert line.parameter_values() == {"w": 1.5, "b": -0.5}
    other = Line()
    other.load_parameters(line.parameter_values())
    assert other.parameter_values() == {"w": 1.5, "b": -0.5}
    other.load_parameters({"b": Scalar(4.0)})  # a parameter: its value is copied, the object stays
    assert other.b is not line.b and other.parameter_values() == {"w": 1.5, "b": 4.0}


@pytest.mark.parametrize("values, error, message", [
    ({"w": 1.0, "slope": 2.0}, KeyError, "no parameter named 'slope'; the model has 'w', 'b'"),
    ({"b": 0.0, "w": "3"}, TypeError, "'w': Scalar: a Scalar holds a real number, got '3' (str)"),
    ({"b": 0.0, "w": np.ones(2)}, TypeError, "'w': Scalar: a Scalar holds a real number, got ndarray"),
])
def test_load_parameters_refuses_and_changes_nothing(values, error, message):
    line = Line(1.5, -0.5)
    with pytest.raises(error, match=re.escape(f"load_parameters: {message}")):
        line.load_parameters(values)
    assert line.parameter_values() == {"w": 1.5, "b": -0.5}


def test_model_gradient_update_needs_every_gradient_and_changes_nothing_otherwise():
    line = Line(1.0, 2.0)
    (line.w * 3.0).backward()  # b gets no gradient
    with pytest.raises(RuntimeError, match=re.escape("gradient_update: no gradient yet for b")):
        line.gradient_update(0.1)
    assert line.parameter_values() == {"w": 1.0, "b": 2.0}
    line(3.0).backward()
    with pytest.raises(TypeError, match="gradient_update: the learning rate"):
        line.gradient_update("0.1")
    assert line.parameter_values() == {"w": 1.0, "b": 2.0}
    line.gradient_update(0.1)
    assert line.parameter_values() == {"w": pytest.approx(0.7), "b": pytest.approx(1.9)}


def test_the_package_reexports_chapter_one():
    import mlfz.nn.scalar as package
    import mlfz.nn.scalar.core as core
    for name in ["Scalar", "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu"]:
        assert getattr(package, name) is getattr(core, name) and name in package.__all__
    for name in ["mean_squared_error", "binary_cross_entropy", "GradientDescent", "Model"]:
        assert name in package.__all__
    assert core.Scalar.gradient_update is package.gradient_update
