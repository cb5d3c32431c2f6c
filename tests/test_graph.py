"Tests of mlfz.graph: what draw_graph and backward_steps put in the pictures, on Scalars, Tensors and bare nodes."
import html
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
    ops = re.findall(r"^\s*o\d+ \[label=<(.*?)>[ \]]", draw_graph(L).source, re.M)
    assert sorted(ops) == sorted(["*", "+", "*", "/ 4", "exp", "- 1"])  # one node per operation


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


def chain(n, backward=True):
    "A chain of `n` bare nodes, x0 -> x1 -> ..., its gradients filled in."
    x = Node(0.0, name="x0")
    for k in range(1, n):
        x = Node(x.value + 1, [Edge(x, 1.0)], op="+ 1", name=f"x{k}")
    if backward:
        backpropagate(x, 1.0)
    return x


def test_deep_chain_without_recursion():
    "The walk is iterative: a 100,000-node chain is counted, and described on request, without a RecursionError."
    x = chain(100_001, backward=False)
    with pytest.raises(ValueError, match="has 100,001 nodes"):
        draw_graph(x)
    assert draw_graph(x, max_nodes=100_001).source.count(" -> ") == 2 * 100_000


@pytest.mark.parametrize("draw", [draw_graph, backward_steps])
@pytest.mark.parametrize("root", [np.ones(3), [Scalar(1.0)], 2.0, None])
def test_only_nodes_are_drawn(draw, root):
    with pytest.raises(TypeError) as error:
        draw(root)
    message = str(error.value)
    assert message.startswith(draw.__name__) and type(root).__name__ in message
    assert "Tensor or a Scalar" in message and "Tensor(...)" in message


def drawn(draw, root, **options):
    "How many values `draw` drew: the boxes of draw_graph's picture, the frames of backward_steps."
    if draw is draw_graph:
        return len(re.findall(r"^\s*v\d+ \[", draw(root, **options).source, re.M))
    return len(draw(root, **options))


@pytest.mark.parametrize("draw", [draw_graph, backward_steps])
def test_rankdir_is_one_of_graphvizs(draw):
    L = reused_graph()
    L.backward()
    for rankdir in ("TB", "LR", "BT", "RL"):
        picture = draw(L, rankdir=rankdir)
        assert f"rankdir={rankdir}" in (picture if draw is draw_graph else picture[0]).source
    for bad in ("XX", "lr", "", " TB", None, 1):
        with pytest.raises(ValueError) as error:
            draw(L, rankdir=bad)
        message = str(error.value)
        assert message.startswith(f"{draw.__name__}: rankdir") and repr(bad) in message
        assert "'TB', 'LR', 'BT', 'RL'" in message


@pytest.mark.parametrize("draw", [draw_graph, backward_steps])
def test_max_nodes_is_a_positive_integer(draw):
    L = reused_graph()
    L.backward()
    assert drawn(draw, L, max_nodes=6) == drawn(draw, L, max_nodes=np.int64(6)) == 6
    for bad in (0, -1, 2.5, "600", True, None):
        with pytest.raises(ValueError, match=rf"^{draw.__name__}: max_nodes .* got {re.escape(repr(bad))}$"):
            draw(L, max_nodes=bad)


def test_show_grad_is_true_or_false():
    L = reused_graph()
    L.backward()
    assert "grad" not in draw_graph(L, show_grad=np.False_).source
    for bad in ("no", None, 0, [False]):
        with pytest.raises(TypeError, match=rf"^draw_graph: show_grad .* got {re.escape(repr(bad))}$"):
            draw_graph(L, show_grad=bad)


@pytest.mark.parametrize("draw, limit", [(draw_graph, 500), (backward_steps, 40)])
def test_graphs_past_the_limit_are_refused(draw, limit):
    "At most `limit` values by default (measured: laid out in about a second); a part, or more on request."
    assert drawn(draw, chain(limit)) == limit
    past = chain(limit + 1)
    with pytest.raises(ValueError) as error:
        draw(past)
    message = str(error.value)
    assert message.startswith(f"{draw.__name__}: the graph has {limit + 1} nodes, more than max_nodes={limit}")
    assert f"pass max_nodes={limit + 1}" in message
    assert ("intermediate node instead of the root" if draw is draw_graph else "draw_graph(root)") in message
    assert drawn(draw, past.prevs[0].prev) == limit  # a part: an intermediate node and what it depends on
    assert drawn(draw, past, max_nodes=limit + 1) == limit + 1


# names that Graphviz would read as instructions or markup, or could not lay out at all;
# each with the text the picture shows: itself, or for invisible characters their Python spelling
NASTY = [(name, name) for name in (
    r"\N", r"\G", r"\L", r"\E\T\H", r"a\lb\rc\n", "\\", "ends in \\", "ends in \\\\", 'say "hi"', "it's",
    "<b>bold</b>", "<<table>>", "&amp;", "&#65;", "a & b", "x > y < z", "{a|b}", "two  spaces", "%3", "-> v0",
    "∂L/∂x 🙂")] + [
    ("tab\there", r"tab\there"), ("new\nline", r"new\nline"), ("cr\r", r"cr\r"), ("nul\x00", r"nul\x00"),
    ("bell\x07", r"bell\x07"), ("del\x7f", r"del\x7f"), ("\u202eevil", r"\u202eevil"), ("lone \ud800", r"lone \ud800")]


def svg_texts(svg):
    "The texts of an SVG as a reader sees them (Graphviz writes repeated spaces as no-break spaces)."
    return [html.unescape(t).replace("\xa0", " ") for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]


def test_names_ops_and_rule_labels_show_as_written(capfd):
    "Each nasty text as a value's name, an operation's label and a tensor rule's label: dot lays it out silently and shows it literally."
    def rule(label):
        def backward_fn(node, local_grad, prev):
            return node.backwards_grad
        backward_fn.label = label
        return backward_fn
    leaves = [Node(np.ones(2), name=name) for name, _ in NASTY]
    mids = [Node(np.ones(2), [Edge(leaf, None, rule(name))], op=name) for leaf, (name, _) in zip(leaves, NASTY)]
    root = Node(np.ones(2), [Edge(mid) for mid in mids], op="sum", name="root")
    backpropagate(root, np.array([1.0, -1.0]))
    svg = draw_graph(root).pipe(format="svg", encoding="utf-8")
    assert capfd.readouterr().err == ""  # no warning from dot either
    texts = svg_texts(svg)
    for name, shown in NASTY:
        assert texts.count(shown) == 3, (name, shown, texts)  # as a name, an operation and a rule


def test_steps_show_names_as_written(capfd):
    "Frames and captions of backward_steps: a third of the nasty names, as Scalars (21 frames)."
    chosen = NASTY[::3]
    total = Scalar(0.0)
    for name, _ in chosen:
        total = total + Scalar(2.0, name=name)
        total.op = name
    total.backward()
    page = backward_steps(total)._repr_html_()
    assert capfd.readouterr().err == ""
    texts = svg_texts(page)
    captions = [html.unescape(c) for c in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>", page, re.S)]
    assert len(captions) == 2 * len(chosen) + 1
    for name, shown in chosen:
        assert texts.count(shown) == 2 * len(captions), name  # in every frame, as a name and an operation
        assert any(f"the {shown} node" in c for c in captions), name  # the sum it labels
        assert any(f": {shown} has its final gradient 1;" in c for c in captions), name  # the leaf it names
