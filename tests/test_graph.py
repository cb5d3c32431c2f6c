"Tests of mlfz.graph: what draw_graph and backward_steps put in the pictures, on Scalars, Tensors and bare nodes."
import re

import numpy as np
import pytest

from mlfz.autodiff import Edge, backpropagate, topological_order, new_stamp
from mlfz.graph import _FOCUS_FILL, _GRAD, BackwardSteps, backward_steps, draw_graph
from mlfz.nn.scalar import Scalar, exp


class Node:
    "The engine contract and nothing else: draw_graph must not need more."
    def __init__(self, value, prevs=(), op=None, name=None):
        self.value, self.prevs, self.op, self.name, self.backwards_grad = value, list(prevs), op, name, None
        self._stamp = new_stamp()  # the engine's check of stale graphs reads it


def reused_graph():
    "L = m * (m + c) with m = a * b: m is used twice."
    a, b, c = Scalar(3.0, name="a"), Scalar(-2.0, name="b"), Scalar(0.5, name="c")
    m = a * b; m.name = "m"
    n = m + c; n.name = "n"
    L = m * n; L.name = "L"
    return L


def test_every_operation_is_drawn():
    L = exp(reused_graph() / 4.0) - 1
    ops = re.findall(r'^\s*o\d+ \[label=("?)(.*?)\1[ \]]', draw_graph(L).source, re.M)
    assert sorted(op for _, op in ops) == sorted(["*", "+", "*", "/ 4", "exp", "- 1"])  # one node per operation


def test_no_gradient_before_backward():
    L = reused_graph()
    source = draw_graph(L).source
    assert "grad" not in source and _GRAD not in source and "dir=back" not in source
    with pytest.raises(ValueError, match="backward"):
        backward_steps(L)


def test_gradients_after_backward():
    L = reused_graph()
    L.backward()
    source = draw_graph(L).source
    for text in ("grad 1", "grad -6", "grad -11.5", "grad 23", "grad -34.5"):
        assert text in source
    # along the edges: n = -5.5 and m = -6 out of the product, -6 twice out of the sum
    for flow in ("-5.5", "-6", "23", "-34.5"):
        assert f"label=<{flow}>" in source
    # forward: one edge per input and one per operation; backward: the same edges reversed
    assert "dir=back" in source and source.count(" -> ") == 2 * (2 * 3 + 3)
    assert "grad" not in draw_graph(L, show_grad=False).source


def test_tensor_labels_show_shapes_and_rules():
    def sum_rows(node, local_grad, prev):
        return np.broadcast_to(node.backwards_grad[:, None], prev.value.shape)
    sum_rows.label = lambda node, prev: f"copy along axis 1 of {prev.value.shape}"
    x = Node(np.arange(6.0).reshape(2, 3), name="x")
    s = Node(x.value.sum(axis=1), [Edge(x, None, sum_rows)], op="sum(axis=1)", name="s")
    before = draw_graph(s).source
    assert "(2, 3)" in before and "∈ [0, 5]" in before and "[3, 12]" in before and "grad" not in before
    backpropagate(s, np.array([0.5, -1.0]))
    after = draw_graph(s).source
    assert "copy along axis 1 of (2, 3)" in after and "grad [0.5, -1]" in after and "grad ∈ [-1, 0.5]" in after


def test_broadcast_operands_are_labelled_with_the_rule_and_the_sum():
    from mlfz.nn.tensor import Tensor
    a, b = Tensor(np.ones((2, 3)), name="a"), Tensor(np.ones(3), name="b")
    for z, label in [(a + b, "sum over axis 0"), (a * b, "× local grad, then sum over axis 0"),
                     (a / b, "−grad · z / y, then sum over axis 0")]:
        z.sum().backward()
        source = draw_graph(z).source
        assert f"(3,)<br/>{label}>" in source, source


def test_steps_one_frame_per_node_with_the_right_focus():
    L = reused_graph()
    L.backward()
    steps = backward_steps(L, rankdir="TB")
    order = topological_order(L)
    assert isinstance(steps, BackwardSteps) and len(steps) == len(order) == 6
    assert steps.nodes == order[::-1]
    for k, (frame, node) in enumerate(zip(steps, steps.nodes)):
        focused = [line for line in frame.source.splitlines() if _FOCUS_FILL in line]
        assert len(focused) == 1 and f"<b>{node.name}</b>" in focused[0]
        assert steps.captions[k].startswith(f"step {k + 1} of 6: {node.name} ")
    # before m's turn its gradient is a partial sum; afterwards it is final
    assert "so far (-5.5) + (-6) = -11.5" in steps[1].source
    assert "grad -11.5" in steps[3].source and "so far" not in steps[-1].source


def test_steps_keep_one_layout():
    "Frames differ in colours and texts only: the same nodes and edges in the same order."
    L = reused_graph()
    L.backward()
    skeleton = [re.sub(r"\s*\[.*", "", line) for line in backward_steps(L)[0].source.splitlines()]
    for frame in backward_steps(L):
        assert [re.sub(r"\s*\[.*", "", line) for line in frame.source.splitlines()] == skeleton


def test_steps_html_is_self_contained():
    L = reused_graph()
    L.backward()
    page = backward_steps(L)._repr_html_()
    assert page.count("<svg") == 6 and "<?xml" not in page and ' id="' not in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/", "")
    assert "step 4 of 6" in page


def test_deep_chain_without_recursion():
    "The walk is iterative: a 100,000-node chain is described without a RecursionError (laying it out is not asked)."
    x = Node(0.0)
    for _ in range(100_000):
        x = Node(x.value + 1, [Edge(x, 1.0)], op="+ 1")
    assert draw_graph(x).source.count(" -> ") == 2 * 100_000
