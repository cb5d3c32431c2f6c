"""The Tensor core: values and dtypes, backward seeds, deep graphs, operands of every kind, and clear errors."""
import sys

import numpy as np
import pytest

from mlfz.gradcheck import gradient_check
from mlfz.nn.tensor import Tensor


def test_values_become_float_arrays_without_needless_copies():
    floats = np.ones((2, 2), dtype=np.float32)
    assert np.shares_memory(Tensor(floats).value, floats) and Tensor(floats).dtype == np.float32
    assert Tensor([1, 2]).dtype == np.float64 and Tensor(True).dtype == np.float64
    assert Tensor(np.arange(3)).dtype == np.float64 and Tensor(2.5).shape == ()
    with pytest.raises(TypeError):
        Tensor(np.array(["a"]))
    with pytest.raises(TypeError):
        Tensor(Tensor(1.0))


def test_float32_stays_float32_through_operations_with_numbers():
    x = Tensor(np.ones(3, dtype=np.float32))
    y = (2.0 * x + 1) / 3.0 - x ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.backwards_grad.dtype == np.float32


def test_backward_seed_shape_is_validated():
    x = Tensor.ones(2, 3)
    y = x * 2
    with pytest.raises(ValueError, match=r"backward: the gradient has shape \(3, 2\), but the tensor has shape \(2, 3\)"):
        y.backward(np.ones((3, 2)))
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.backwards_grad, np.ones((2, 3)))


def test_zero_grad_false_accumulates():
    x = Tensor([1.0, 2.0])
    (x * 3).backward()
    (x * 3).backward(zero_grad=False)
    np.testing.assert_array_equal(x.backwards_grad, [6.0, 6.0])
    x.gradient_update(0.5)
    np.testing.assert_array_equal(x.value, [-2.0, -1.0])


def test_a_100000_deep_chain_runs_backward():
    x = Tensor([1.0, -2.0])
    y = x
    for _ in range(100_000):
        y = y + x * 0.5
    assert sys.getrecursionlimit() < 100_000
    y.backward()
    np.testing.assert_allclose(x.backwards_grad, [50_001.0, 50_001.0])
    del y  # freeing the chain must not overflow the C stack either


def test_numpy_operands_on_the_left_give_tensors():
    x = Tensor([1.0, 2.0])
    for result in [np.ones(2) + x, np.ones(2) - x, np.ones(2) * x, np.ones(2) / x, np.ones(2) ** x,
                   np.float64(2.0) * x, np.float32(2.0) - x, 3 / x, 2 ** x]:
        assert isinstance(result, Tensor)
        assert len(result.prevs) == 1 and result.prevs[0].prev is x


def test_comparisons_are_plain_arrays_and_tensors_hash_by_identity():
    x, y = Tensor([1.0, 2.0, 3.0]), Tensor([3.0, 2.0, 1.0])
    for result, expected in [(x == y, [False, True, False]), (x != y, [True, False, True]), (x < y, [True, False, False]),
                             (x <= 2, [True, True, False]), (x > np.array([0, 5, 0]), [True, False, True]),
                             (x >= y, [False, True, True]), (np.array([2, 2, 2]) < x, [False, False, True])]:
        assert type(result) is np.ndarray and result.dtype == bool
        np.testing.assert_array_equal(result, expected)
    assert len({x, y, Tensor(x.value)}) == 3 and x in {x}


def test_numpy_functions_refuse_tensors():
    with pytest.raises(TypeError):
        np.exp(Tensor([1.0]))


def test_constructors_and_properties():
    t = Tensor.from_random(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.size == 24 and len(t) == 2 and t.dtype == np.float64
    assert Tensor.ones((2, 3)).shape == Tensor.zeros(2, 3).shape == Tensor.random_like(np.ones((2, 3))).shape == (2, 3)
    np.testing.assert_array_equal(Tensor.ones_like(t).value, np.ones((2, 3, 4)))
    np.testing.assert_array_equal(Tensor.zeros_like(t.value).value, np.zeros((2, 3, 4)))
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(Tensor(np.ones(1, np.float32), name="w")) == "Tensor([1.], dtype=float32, name='w')"


def test_abs_subgradient_at_zero_is_zero():
    x = Tensor([-1.5, 0.0, 2.0])
    abs(x).backward(np.array([2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.backwards_grad, [-2.0, 0.0, 4.0])


def test_powers_never_give_silent_nans():
    with pytest.raises(ValueError, match="negative base with a non-integer exponent"):
        Tensor([-1.0, 4.0]) ** 0.5
    with pytest.raises(ValueError, match="negative base with a non-integer exponent"):
        Tensor([-1.0, 4.0]) ** Tensor([1.5, 2.0])
    x = Tensor([-2.0, 3.0])
    gradient_check(lambda x: x ** 3, x)  # integer exponents are fine for negative bases
    with pytest.raises(ValueError, match="base x is negative"):
        (x ** Tensor([2.0, 2.0])).sum().backward()
    base, exponent = Tensor([0.0, 2.0]), Tensor([2.0, 3.0])
    (base ** exponent).sum().backward()
    assert np.all(np.isfinite(exponent.backwards_grad)) and exponent.backwards_grad[0] == 0.0


def test_constant_exponents_get_no_edge():
    x = Tensor([1.0, 2.0])
    for y in [x ** 2, x ** np.array([2.0, 3.0])]:
        assert [edge.prev for edge in y.prevs] == [x]


@pytest.mark.parametrize("shape", [(), (1,), (3, 3), (2, 1, 3)])
def test_every_arithmetic_operator_on_odd_shapes(shape):
    rng = np.random.default_rng(len(shape))
    x = Tensor(rng.standard_normal(shape))
    y = Tensor(rng.uniform(0.5, 2.0, shape))
    for f in [lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y, lambda x, y: x / y,
              lambda x, y: y ** x, lambda x, y: -x * abs(y), lambda x, y: (x * x - y) / (y + 1.0)]:
        gradient_check(f, x, y)


def test_no_arrays_allocated_for_nothing():
    a, b = Tensor.ones(3), Tensor.ones(3)
    assert [edge.local_grad for edge in (a + b).prevs] == [None, None]  # the gradient passes through
    assert (a - b).prevs[1].local_grad == -1.0
    x = Tensor.ones(300, 400)
    x.mean(axis=(0, 1)).backward()
    # the mean's rule sends one number broadcast as a view; the leaf gets its own writable copy
    assert x.backwards_grad.flags.writeable and x.backwards_grad.base is None
    y = Tensor.ones(4)
    y.broadcast_to((300, 4)).sum(axis=0).sum().backward()
    assert y.backwards_grad.shape == (4,)
    assert np.shares_memory(y.broadcast_to((300, 4)).value, y.value)
