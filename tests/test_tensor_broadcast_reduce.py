"""Property tests for broadcasting binary operations and reductions against finite differences, and their errors."""
import operator

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from mlfz.gradcheck import gradient_check
from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.broadcasting import broadcast_operand_grad, broadcast_to, sum_to_shape
from mlfz.nn.tensor.reductions import max, mean, min, normalize_axes, sum, summation

checked = settings(max_examples=100, deadline=None)
seeds = st.integers(0, 2**32 - 1)
binary_ops = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def random_tensor(rng, shape, away_from_zero=False):
    if away_from_zero:  # denominators: |value| in [0.5, 2]
        return Tensor(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))
    return Tensor(rng.standard_normal(shape))


# binary operations between two Tensors of broadcastable shapes

@checked
@given(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), st.sampled_from(sorted(binary_ops)), seeds)
def test_binary_op_gradients_reduce_to_each_operand_shape(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a = random_tensor(rng, shapes.input_shapes[0])
    b = random_tensor(rng, shapes.input_shapes[1], away_from_zero=op == "/")
    out = binary_ops[op](a, b)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.value, binary_ops[op](a.value, b.value))
    gradient_check(binary_ops[op], a, b)
    assert a.backwards_grad.shape == a.shape and b.backwards_grad.shape == b.shape


@checked
@given(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seeds)
def test_power_with_tensor_base_and_exponent(shapes, seed):
    rng = np.random.default_rng(seed)
    base = Tensor(rng.uniform(0.5, 2.0, shapes.input_shapes[0]))
    exponent = random_tensor(rng, shapes.input_shapes[1])
    gradient_check(operator.pow, base, exponent)


@checked
@given(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), st.sampled_from(sorted(binary_ops)),
       st.booleans(), seeds)
def test_constant_operands_get_no_edge(shapes, op, tensor_first, seed):
    rng = np.random.default_rng(seed)
    t = random_tensor(rng, shapes.input_shapes[0], away_from_zero=True)
    constant = rng.uniform(0.5, 2.0, shapes.input_shapes[1])
    f = (lambda t: binary_ops[op](t, constant)) if tensor_first else (lambda t: binary_ops[op](constant, t))
    gradient_check(f, t)
    # the only leaf of the graph is t: walk it
    leaves, stack = [], [f(t)]
    while stack:
        node = stack.pop()
        stack.extend(edge.prev for edge in node.prevs)
        if not node.prevs:
            leaves.append(node)
    assert leaves == [t]


@checked
@given(mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3), seeds)
def test_broadcast_to_and_sum_to_shape(shapes, seed):
    rng = np.random.default_rng(seed)
    shape, target = shapes.input_shapes[0], shapes.result_shape
    gradient_check(broadcast_to, random_tensor(rng, shape), shape=target)
    grad = rng.standard_normal(target)
    reduced = sum_to_shape(grad, shape)
    assert reduced.shape == shape
    np.testing.assert_allclose(reduced.sum(), grad.sum())


# reductions

@st.composite
def shapes_and_axes(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim)) if ndim else []
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in chosen)  # some of them negative
    return shape, axis


reductions = {"sum": (sum, np.sum), "mean": (mean, np.mean), "max": (max, np.max), "min": (min, np.min)}


@settings(max_examples=150, deadline=None)
@given(shapes_and_axes(), st.booleans(), st.sampled_from(sorted(reductions)), seeds)
def test_reductions_match_numpy_and_finite_differences(shape_axis, keepdims, name, seed):
    shape, axis = shape_axis
    ours, numpys = reductions[name]
    x = random_tensor(np.random.default_rng(seed), shape)
    out = ours(x, axis=axis, keepdims=keepdims)
    expected = numpys(x.value, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.value, expected)
    method = getattr(x, name)(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(method.value, out.value)
    gradient_check(ours, x, axis=axis, keepdims=keepdims)


def test_summation_function_form():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 3, 2)))
    for axes in [None, 1, (0, 2), (-1,)]:
        np.testing.assert_allclose(summation(x, axes=axes).value, np.sum(x.value, axis=axes))
        gradient_check(summation, x, axes=axes)


def test_sum_over_axis_0_of_square_tensor_is_not_transposed():
    x = Tensor(np.arange(9.0).reshape(3, 3))
    x.sum(axis=0).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.backwards_grad, [[1.0, 2.0, 3.0]] * 3)


def test_ties_share_the_gradient_evenly():
    x = Tensor([[5.0, 1.0, 5.0, 5.0], [0.0, -2.0, -2.0, 7.0]])
    x.max(axis=1).backward(np.array([3.0, 2.0]))
    np.testing.assert_allclose(x.backwards_grad, [[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 2.0]])
    x.min(axis=1).backward(np.array([3.0, 2.0]))
    np.testing.assert_allclose(x.backwards_grad, [[0.0, 3.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]])
    # distinct upstream values per column, so a gradient sent to the wrong column shows
    x.max(axis=0, keepdims=True).backward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    np.testing.assert_allclose(x.backwards_grad, [[1.0, 2.0, 3.0, 0.0], [0.0, 0.0, 0.0, 4.0]])


# errors

@pytest.mark.parametrize("op", sorted(binary_ops) + ["**"])
@pytest.mark.parametrize("tensor_second", [False, True])
def test_shape_mismatch_names_the_op_and_both_shapes(op, tensor_second):
    f = {**binary_ops, "**": operator.pow}[op]
    a, b = Tensor.ones(2, 3), np.ones((4, 1, 2))
    if tensor_second:
        a, b = np.ones((2, 3)), Tensor.ones(4, 1, 2)
    with pytest.raises(ValueError) as error:
        f(a, b)
    assert str(error.value).startswith(f"{op}: ") and "(2, 3)" in str(error.value) and "(4, 1, 2)" in str(error.value)


def test_power_keeps_its_own_error_when_the_shapes_broadcast():
    # the negative-base check runs inside the broadcasting; it must not be reported as a shape error
    with pytest.raises(ValueError, match="negative base"):
        Tensor([[-1.0], [2.0]]) ** Tensor([0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"\*\*: operands with shapes \(2,\) and \(3,\)"):
        Tensor([-1.0, 2.0]) ** Tensor([0.5, 1.0, 2.0])


def test_binary_ops_broadcast_without_extra_nodes():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones(3))
    for f in binary_ops.values():
        z = f(a, b)
        assert [edge.prev for edge in z.prevs] == [a, b]  # no broadcast_to node in between
        assert z.prevs[0].backward_fn is not broadcast_operand_grad  # a has the result's shape
        assert z.prevs[1].backward_fn is broadcast_operand_grad


def test_broadcast_to_refuses_shapes_it_cannot_reach():
    for shape, target in [((3, 2), (3, 3)), ((2, 3), (3,)), ((3,), (3, 2))]:
        with pytest.raises(ValueError, match=r"broadcast_to: .*cannot be broadcast"):
            broadcast_to(Tensor.ones(*shape), target)


@pytest.mark.parametrize("name", sorted(reductions))
def test_bad_axes_are_refused(name):
    x = Tensor.ones(2, 3)
    with pytest.raises(ValueError, match=f"{name}: axis 2 is out of range"):
        getattr(x, name)(axis=2)
    with pytest.raises(ValueError, match=f"{name}: axis -3 is out of range"):
        getattr(x, name)(axis=(0, -3))
    with pytest.raises(ValueError, match=f"{name}: repeated axis"):
        getattr(x, name)(axis=(1, -1))
    with pytest.raises(TypeError, match=f"{name}: axes must be integers"):
        getattr(x, name)(axis=1.0)
    with pytest.raises(ValueError, match="out of range"):
        getattr(Tensor(2.0), name)(axis=0)


def test_normalize_axes():
    assert normalize_axes((-1, 0), 3) == (0, 2)
    assert normalize_axes(None, 0) == ()
