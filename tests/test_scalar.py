"""Property tests of `mlfz.nn.scalar`: gradients of random expressions against finite differences, and the domain errors."""
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlfz.autodiff import topological_order
from mlfz.gradcheck import gradient_check
from mlfz.nn.scalar import Scalar, cos, exp, log, relu, sigmoid, sin, tanh

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
    return a**b


UNARY = {"neg": lambda a: -a, "sin": sin, "cos": cos, "tanh": tanh, "sigmoid": sigmoid, "exp": exp,
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
    with pytest.raises(TypeError):
        Scalar(1.0) + "1"
    with pytest.raises(TypeError):
        [1] * Scalar(2.0)
