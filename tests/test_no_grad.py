"""Not recording (chapter 30): every operation under no_grad makes a leaf that keeps no input alive,
the switch is restored through any nesting of blocks, decorators and errors, updates grow no graph,
and detach cuts exactly one tensor's graph."""
import weakref

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlfz.autodiff import topological_order
from mlfz.nn.tensor import Tensor, is_grad_enabled, no_grad
from mlfz.nn.tensor import functional as F
from mlfz.nn.tensor import loss as L

OPERATIONS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / (b * b + 1), "**": lambda a, b: abs(a) ** b, "@": lambda a, b: a @ b,
    "neg": lambda a, b: -a, "T": lambda a, b: a.T, "reshape": lambda a, b: a.reshape(9),
    "sum": lambda a, b: a.sum(axis=0), "mean": lambda a, b: a.mean(), "max": lambda a, b: a.max(axis=1),
    "index": lambda a, b: a[1:, ::2], "exp": lambda a, b: F.exp(a), "tanh": lambda a, b: F.tanh(a),
    "relu": lambda a, b: F.relu(a), "softmax": lambda a, b: F.softmax(a),
    "mse": lambda a, b: L.mean_squared_error(a, b),
    "cross_entropy": lambda a, b: L.cross_entropy(a, np.array([0, 2, 1])),
}


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_under_no_grad_is_a_leaf_that_frees_its_inputs(name):
    rng = np.random.default_rng(0)
    a, b = Tensor(rng.standard_normal((3, 3))), Tensor(rng.standard_normal((3, 3)))
    recorded = OPERATIONS[name](a, b)
    assert recorded.prevs, f"{name} records edges with recording on"
    with no_grad():
        out = OPERATIONS[name](a, b)
    assert out.prevs == [] and out.op is None
    np.testing.assert_array_equal(out.value, recorded.value)
    assert not out.value.flags.writeable  # a leaf's value, like every leaf's
    del recorded
    inputs = weakref.ref(a), weakref.ref(b)
    del a, b
    assert all(ref() is None for ref in inputs), f"{name}'s result keeps an input alive"


# A program of nested blocks: each item is ("call", decorated bare, raises), a call of a function
# decorated with @no_grad or @no_grad(), or ("block", inner program, raises), a `with no_grad():`.
calls = st.tuples(st.just("call"), st.booleans(), st.booleans())
items = st.recursive(
    calls, lambda inner: st.tuples(st.just("block"), st.lists(inner, max_size=3), st.booleans()),
    max_leaves=10)
programs = st.lists(items, max_size=4)


class Raised(Exception):
    pass


@no_grad
def bare(raises):
    assert not is_grad_enabled()
    if raises:
        raise Raised


@no_grad()
def called(raises):
    assert not is_grad_enabled()
    if raises:
        raise Raised


def run(program):
    "Run the program; after each item, the state must be what it was before it."
    for item in program:
        before = is_grad_enabled()
        try:
            if item[0] == "call":
                (bare if item[1] else called)(item[2])
            else:
                with no_grad():
                    run(item[1])
                    if item[2]:
                        raise Raised
        except Raised:
            pass
        assert is_grad_enabled() == before


@settings(max_examples=60, deadline=None)
@given(programs, st.booleans())
def test_any_nesting_of_blocks_decorators_and_errors_restores_the_state(program, outside):
    if outside:
        run(program)
    else:
        with no_grad():
            run(program)
            assert not is_grad_enabled()
    assert is_grad_enabled()


def test_errors_come_through_and_decorators_keep_the_function():
    with pytest.raises(Raised):
        bare(True)
    with pytest.raises(Raised):
        with no_grad():
            raise Raised
    assert is_grad_enabled()
    assert bare.__name__ == "bare" and called.__name__ == "called"

    class Doubler:
        @no_grad
        def __call__(self, t):
            return t * 2
    assert Doubler()(Tensor([1.0])).prevs == []  # also as a method


def test_the_flag_is_read_when_a_tensor_is_made():
    x = Tensor([1.0, 2.0])
    with no_grad():
        frozen = x * 2
    recorded = x * 3
    later = frozen + recorded
    assert frozen.prevs == [] and recorded.prevs and later.prevs
    later.sum().backward()
    np.testing.assert_array_equal(x.backwards_grad, [3.0, 3.0])  # only through `recorded`


@pytest.mark.parametrize("update", ["-=", "+=", "*=", "/=", "gradient_update", "no_grad"])
def test_updates_grow_no_graph(update):
    w = Tensor([1.0, 2.0])
    for step in range(4):
        (w * w).sum().backward()
        g = w.backwards_grad
        if update == "-=":
            w -= 0.1 * g
        elif update == "+=":
            w += 0.1 * g
        elif update == "*=":
            w *= 1 + 0.1 * g
        elif update == "/=":
            w /= 1 + 0.1 * g
        elif update == "gradient_update":
            w.gradient_update(0.1)
        else:
            with no_grad():
                w = w - 0.1 * g
        assert w.prevs == [] and len(topological_order(w)) == 1


def test_recording_an_update_grows_a_chain():
    w = Tensor([1.0, 2.0])
    for step in range(1, 5):
        (w * w).sum().backward()
        w = w - 0.1 * w.backwards_grad
        assert len(topological_order(w)) == step + 1


def test_a_graph_built_before_an_update_is_refused():
    w = Tensor([1.0, 2.0], name="w")
    loss = (w * w).sum()
    with no_grad():  # an update under no_grad changes the value all the same
        w.value = w.value - 0.1
    with pytest.raises(RuntimeError, match="'w' .* changed after the graph"):
        loss.backward()


def test_detach_cuts_one_tensor_and_copies_nothing():
    x = Tensor([1.0, -2.0], name="x")
    y = x * x
    y.name = "y"
    cut = y.detach()
    assert cut.prevs == [] and cut.op is None and cut.name == "y"
    assert np.shares_memory(cut.value, y.value) and not cut.value.flags.writeable
    assert y.prevs  # the original graph is untouched
    (cut * x).sum().backward()
    np.testing.assert_array_equal(x.backwards_grad, y.value)  # d(y x)/dx with y constant
    (y * x).sum().backward()
    np.testing.assert_array_equal(x.backwards_grad, 3 * x.value ** 2)  # through y as well
    leaf = x.detach()
    assert leaf is not x and np.shares_memory(leaf.value, x.value) and leaf.prevs == []



def test_a_decorated_generator_records_nothing_while_it_runs():
    w = Tensor([1.0, 2.0])

    @no_grad
    def doubled(n):
        for _ in range(n):
            yield w * 2.0

    assert all(t.prevs == [] for t in doubled(3)) and is_grad_enabled()


def test_one_instance_entered_twice_restores_recording():
    switch = no_grad()
    with switch:
        with switch:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_a_mistaken_argument_is_named():
    with pytest.raises(TypeError, match="no_grad takes no argument, or decorates a function; got True"):
        no_grad(True)
