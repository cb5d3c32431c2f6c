"""Property tests for matmul, transpose, reshape and indexing against NumPy and finite differences."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlfz.gradcheck import gradient_check
from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.indexing import getitem
from mlfz.nn.tensor.matmul import matmul
from mlfz.nn.tensor.shape_ops import reshape, transpose

checked = settings(max_examples=30, deadline=None)
sizes = st.integers(1, 3)


def random_tensor(seed, shape):
    return Tensor(np.random.default_rng(seed).standard_normal(shape))


# matmul

@st.composite
def matmul_shapes(draw):
    "Shapes `np.matmul` accepts: 1-D or N-D on either side, batch axes that broadcast (dropped or size 1)."
    m, n, p = draw(sizes), draw(sizes), draw(sizes)
    batch = draw(st.lists(sizes, max_size=2))

    def operand_batch():
        kept = batch[draw(st.integers(0, len(batch))):]
        return tuple(1 if draw(st.booleans()) else b for b in kept)

    x_shape = (n,) if draw(st.booleans()) else operand_batch() + (m, n)
    w_shape = (n,) if draw(st.booleans()) else operand_batch() + (n, p)
    return x_shape, w_shape


@checked
@given(matmul_shapes(), st.integers(0, 2**32 - 1))
def test_matmul_matches_numpy_and_finite_differences(shapes, seed):
    x, w = random_tensor(seed, shapes[0]), random_tensor(seed + 1, shapes[1])
    z = x @ w
    np.testing.assert_allclose(z.value, np.matmul(x.value, w.value))
    gradient_check(matmul, x, w)


@checked
@given(matmul_shapes(), st.integers(0, 2**32 - 1))
def test_matmul_with_a_constant_operand(shapes, seed):
    x, w = random_tensor(seed, shapes[0]), random_tensor(seed + 1, shapes[1])
    gradient_check(lambda x: x @ w.value, x)
    gradient_check(lambda w: x.value @ w, w)
    assert len((x.value @ w).prevs) == len((x @ w.value).prevs) == 1


@pytest.mark.parametrize("x_shape, w_shape", [((3, 3, 3), (3, 3, 3)), ((3, 3, 3), (3, 3)), ((2, 1, 3, 3), (2, 3, 3))])
def test_batched_matmul_transposes_each_matrix(x_shape, w_shape):
    "Equal-length axes: a backward rule using `.T` on a batch keeps the shapes and fails here by value."
    gradient_check(matmul, random_tensor(0, x_shape), random_tensor(1, w_shape))


@pytest.mark.parametrize("x_shape, w_shape, fragment", [
    ((2, 3), (4, 5), "(2, 3) and (4, 5)"),
    ((3,), (2,), "(3,) and (2,)"),
    ((2, 3), (2,), "(2, 3) and (2,)"),
    ((2, 2, 3), (3, 3, 4), "batch axes (2,) and (3,)"),
    ((3,), (), "0-d"),
    ((), (3, 3), "0-d"),
])
def test_matmul_shape_errors_name_both_shapes(x_shape, w_shape, fragment):
    with pytest.raises(ValueError, match="matmul") as error:
        Tensor(np.ones(x_shape)) @ Tensor(np.ones(w_shape))
    assert fragment in str(error.value)


def test_matmul_by_a_number_is_an_error():
    with pytest.raises(ValueError, match="0-d"):
        2.0 @ Tensor(np.ones(3))
    with pytest.raises(ValueError, match="0-d"):
        matmul(Tensor(np.ones(3)), 2)


# transpose and reshape

@st.composite
def shapes_and_permutations(draw):
    shape = tuple(draw(st.lists(sizes, max_size=4)))
    axes = draw(st.permutations(range(len(shape))))
    negative = [draw(st.booleans()) for _ in axes]
    return shape, tuple(a - len(shape) if neg else a for a, neg in zip(axes, negative))


@checked
@given(shapes_and_permutations(), st.integers(0, 2**32 - 1))
def test_transpose_matches_numpy_and_finite_differences(shape_axes, seed):
    shape, axes = shape_axes
    x = random_tensor(seed, shape)
    np.testing.assert_array_equal(x.transpose(*axes).value, np.transpose(x.value, axes))
    np.testing.assert_array_equal(x.transpose(axes).value, np.transpose(x.value, axes))
    np.testing.assert_array_equal(x.T.value, x.value.T)
    gradient_check(transpose, x, axes=axes)
    gradient_check(lambda x: x.T, x)


@pytest.mark.parametrize("axes", [(1, 2, 0), (2, 0, 1)])
def test_transpose_gradient_is_the_inverse_permutation(axes):
    "On a cube, a backward pass applying `axes` itself instead of its inverse keeps the shape and fails here."
    gradient_check(transpose, random_tensor(0, (3, 3, 3)), axes=axes)


@pytest.mark.parametrize("axes", [(0, 0, 1), (0, 1), (0, 1, 3), (0, 1, 2, 3), (-4, 0, 1)])
def test_transpose_errors_name_axes_and_shape(axes):
    with pytest.raises(ValueError, match="transpose") as error:
        Tensor(np.ones((2, 3, 4))).transpose(axes)
    assert str(axes) in str(error.value) and "(2, 3, 4)" in str(error.value)


@st.composite
def shapes_and_reshapes(draw):
    "A shape and another grouping of its elements: its prime factors shuffled into new axes, size-1 axes, maybe a -1."
    shape = tuple(draw(st.lists(st.integers(1, 4), max_size=3)))
    size, factors = math.prod(shape), []
    for prime in (2, 3):
        while size % prime == 0:
            factors.append(prime)
            size //= prime
    factors = draw(st.permutations(factors)) + [1] * draw(st.integers(0, 2))
    cuts = sorted(draw(st.lists(st.integers(0, len(factors)), max_size=3)))
    new_shape = [math.prod(factors[a:b]) for a, b in zip([0] + cuts, cuts + [len(factors)])]
    if new_shape and draw(st.booleans()):
        new_shape[draw(st.integers(0, len(new_shape) - 1))] = -1
    return shape, tuple(new_shape)


@checked
@given(shapes_and_reshapes(), st.integers(0, 2**32 - 1))
def test_reshape_matches_numpy_and_finite_differences(shapes, seed):
    shape, new_shape = shapes
    x = random_tensor(seed, shape)
    np.testing.assert_array_equal(x.reshape(*new_shape).value, x.value.reshape(new_shape))
    np.testing.assert_array_equal(x.reshape(new_shape).value, x.value.reshape(new_shape))
    gradient_check(reshape, x, shape=new_shape)
    gradient_check(lambda x: x.transpose().reshape(new_shape), x)


@pytest.mark.parametrize("shape", [(5, -1), (-1, -1), (25,), (2, -2, 6)])
def test_reshape_errors_name_both_shapes(shape):
    with pytest.raises(ValueError, match="reshape") as error:
        Tensor(np.ones((2, 3, 4))).reshape(shape)
    assert str(shape) in str(error.value) and "(2, 3, 4)" in str(error.value)


# indexing

@st.composite
def shapes_and_indices(draw):
    "A shape and a NumPy index into it: integers (negative too), slices (negative steps too), repeating integer arrays, None, Ellipsis."
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    array_length = draw(st.integers(1, 4))  # integer arrays in one index must broadcast together
    count = draw(st.integers(1, len(shape)))  # how many axes the index addresses
    # with an Ellipsis at position `split`, the items after it address the last axes, not the next ones
    split = draw(st.integers(0, count)) if count < len(shape) and draw(st.booleans()) else None
    axes = shape[:count] if split is None else shape[:split] + shape[len(shape) - (count - split):]
    items = []
    for n in axes:
        kind = draw(st.sampled_from(["int", "slice", "array"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-n - 1, n + 1)
            items.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1, -2]))))
        else:
            items.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=array_length, max_size=array_length))))
    if split is not None:
        items.insert(split, Ellipsis)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return shape, tuple(items)


@checked
@given(shapes_and_indices(), st.integers(0, 2**32 - 1))
def test_indexing_matches_numpy_and_finite_differences(shape_index, seed):
    shape, index = shape_index
    x = random_tensor(seed, shape)
    np.testing.assert_array_equal(x[index].value, x.value[index])
    gradient_check(getitem, x, index=index)


@checked
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(0, 2**32 - 1))
def test_boolean_masks(shape, seed):
    x = random_tensor(seed, shape)
    for mask in [x.value > 0, (x.value > 0).reshape(-1)[:shape[0]]]:
        np.testing.assert_array_equal(x[mask].value, x.value[mask])
        gradient_check(getitem, x, index=mask)


def test_repeated_indices_accumulate():
    x = Tensor(np.arange(3.0))
    y = x[[0, 2, 0, 0]]
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.backwards_grad, [8.0, 0.0, 2.0])


def test_tensor_indices_are_refused_as_pytorch_refuses_float_indices():
    x = random_tensor(0, (3, 3))
    for index in [Tensor([2, 2, 0]), (0, Tensor(1)), Tensor(x.value > 0)]:
        with pytest.raises(IndexError, match="a Tensor cannot be an index"):
            x[index]
    gradient_check(getitem, x, index=np.array([2, 2, 0]))


def test_index_errors_name_the_shape():
    with pytest.raises(IndexError, match=r"\(3, 3\)"):
        Tensor(np.ones((3, 3)))[3]
