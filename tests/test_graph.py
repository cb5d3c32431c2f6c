"Tests of mlfz.graph: what draw_graph and backward_steps put in the pictures, on Scalars, Tensors and bare nodes."
import html
import re

import numpy as np
import pytest

from mlfz.autodiff import Edge, backpropagate, topological_order, new_stamp
from mlfz.graph import _FOCUS_FILL, _GRAD, BackwardSteps, backward_steps, describe_rule, draw_graph
from mlfz.nn.scalar import Scalar, exp, tanh
from mlfz.nn.tensor import Tensor, cross_entropy, functional, softmax
from test_browser import browser  # noqa: F401 (a fixture: headless Chromium, as for the site's pages)


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


def backward_labels(picture):
    "The texts on the backward edges of a picture, each a list of lines, in the order they are drawn."
    tables = re.findall(r"bgcolor='white'>(.*?)</table>", picture.source)
    return [[html.unescape(t) for t in re.findall(r"<td>(.*?)</td>", table)] for table in tables]


def test_gradients_after_backward():
    L = reused_graph()
    L.backward()
    source = draw_graph(L).source
    for text in ("grad 1", "grad -6", "grad -11.5", "grad 23", "grad -34.5"):
        assert text in source
    # along the edges: 23 and -34.5 out of a * b, -6 twice out of the sum, n = -5.5 and m = -6 out of L
    assert backward_labels(draw_graph(L)) == [["23"], ["-34.5"], ["-6"], ["-6"], ["-5.5"], ["-6"]]
    # forward: one edge per input and one per operation; backward: the same edges reversed
    assert "dir=back" in source and source.count(" -> ") == 2 * (2 * 3 + 3)
    assert "grad" not in draw_graph(L, show_grad=False).source


def test_tensor_labels_show_shapes_and_rules():
    def sum_rows(node, local_grad, prev):
        return np.broadcast_to(node.backwards_grad[:, None], prev.value.shape)
    sum_rows.label = lambda node, prev: f"copy along axis 1 of {prev.value.shape}"
    x = Node(np.arange(8.0).reshape(2, 4), name="x")
    s = Node(x.value.sum(axis=1), [Edge(x, None, sum_rows)], op="sum(axis=1)", name="s")
    before = draw_graph(s).source
    assert "(2, 4)" in before and "∈ [0, 7]" in before and "[6, 22]" in before and "grad" not in before
    backpropagate(s, np.array([0.5, -1.0]))
    after = draw_graph(s).source
    assert backward_labels(draw_graph(s)) == [["(2, 4)", "copy along axis 1 of (2, 4)"]]
    assert "grad [0.5, -1]" in after and "grad ∈ [-1, 0.5]" in after


def test_broadcast_operands_are_labelled_with_the_rule_and_the_sum():
    "The stretched operand's edge says the operation's own rule, read from the inner edge, then the sum."
    a, b = Tensor(np.ones((2, 3)), name="a"), Tensor(np.ones(3), name="b")
    for z, rule in [(a + b, "g"), (a * b, "g · a"), (a / b, None)]:
        z.sum().backward()
        inner = z.prevs[1].local_grad  # the edge the operation made, before the sum
        rule = rule or describe_rule(z, inner)  # division: the label its chapter gives it
        assert describe_rule(z, inner) == rule
        summed = "sum over axis 0" if rule == "g" else f"{rule}, then sum over axis 0"  # + : just the sum
        assert backward_labels(draw_graph(z))[1] == ["(3,)", summed]


def test_rules_are_read_from_what_the_edge_stores():
    "The identity, a constant factor, the value of an input, another array, a labelled backward function."
    a, b, big = Tensor([1.0, -2.0, 3.0], name="a"), Tensor([0.5, 4.0, -1.0], name="b"), Tensor(np.ones(4))
    unnamed = Tensor([2.0, 2.0, 2.0])
    cases = [(a + b, ["g", "g"]), (a - b, ["g", "−g"]), (-a, ["−g"]), (1 - a, ["−g"]), (a * 2, ["g × 2"]),
             (0.5 * a, ["g × 0.5"]), (a * -3, ["g × (-3)"]), (a * b, ["g · b", "g · a"]),
             (a * unnamed, ["g · other", "g · a"]), (a * a, ["g · a", "g · a"]),
             (a * np.array([1.0, -2.0, 0.5]), ["g · [1, -2, 0.5]"]), (big * np.arange(4.0), ["g · ∂out/∂in"])]
    for z, rules in cases:
        assert [describe_rule(z, edge) for edge in z.prevs] == rules, z.op
    z = big * np.arange(4.0); z.name = "z"
    big.name = "x"
    assert describe_rule(z, z.prevs[0]) == "g · ∂z/∂x"
    def halve(node, local_grad, prev):
        return node.backwards_grad / 2
    halve.label = "g / 2"
    assert describe_rule(None, Edge(a, None, halve)) == "g / 2"


def test_a_named_intermediate_shows_its_name():
    "`t.name = ...` on an intermediate: its box and the rules that use its value say it."
    a, b = Tensor([1.0, -2.0, 3.0], name="a"), Tensor([0.5, 4.0, -1.0], name="b")
    z = a * b
    y = z * a
    y.sum().backward()
    assert backward_labels(draw_graph(y))[2] == ["(3,)", "g · a"] and "<b>z</b>" not in draw_graph(y).source
    z.name = "z"
    assert backward_labels(draw_graph(y))[2:] == [["(3,)", "g · a"], ["(3,)", "g · z"]]
    assert "<b>z</b>&#160;(3,)" in draw_graph(y).source


def constants(picture):
    "The constant operands of a picture: the sources of their forward edges."
    names = re.findall(r"^\s*(k\d+) \[label=constant\]", picture.source, re.M)
    return [(k, re.findall(rf"^\s*{k} -> (o\d+)", picture.source, re.M)) for k in names]


def test_constant_operands_are_drawn():
    "A tensor operation with a constant operand gets a box for it, with a forward edge and no gradient."
    a, b = Tensor([1.0, -2.0, 3.0], name="a"), Tensor([0.5, 4.0, -1.0], name="b")
    y = 1 - (2 * a + b) / 4
    y.backward(np.array([1.0, -1.0, 0.5]))
    picture = draw_graph(y)
    drawn = constants(picture)
    assert len(drawn) == 3 and all(len(ops) == 1 for _, ops in drawn)  # the 2, the 4 and the 1
    assert not re.search(r"-> k\d+|k\d+ -> v", picture.source)  # nothing flows back to a constant
    for steps_frame in backward_steps(y):
        assert len(constants(steps_frame)) == 3
    assert constants(draw_graph(a * b)) == []  # two tensors: no constant
    assert constants(draw_graph(Scalar(2.0) * 3)) == []  # a Scalar writes it into its label: "* 3"


def test_small_arrays_show_their_elements():
    "Values and gradients of at most six elements, as NumPy lays them out; more: the range."
    x = Tensor([[1.0, -2.0, 1 / 3], [4.0, 5.0, 6.0]], name="x")
    long = Tensor(np.arange(7.0), name="long")
    y = (x * 2).sum() + (long * 1).sum()
    y.backward()
    source = draw_graph(y).source
    assert "[[1, -2, 0.333],<br align='left'/>&#160;[4, 5, 6]]<br align='left'/>" in source
    assert "grad&#160;</td><td>[[2, 2, 2],<br align='left'/>&#160;[2, 2, 2]]" in source
    assert "∈ [0, 6]" in source and "grad all 1" in source
    steps = backward_steps(y)
    caption = next(c for c, n in zip(steps.captions, steps.nodes) if n is x)
    assert caption.endswith(": x has its final gradient [[2, 2, 2], [2, 2, 2]]; a leaf, it passes nothing on")
    assert any("g × 2 = [[2, 2, 2], [2, 2, 2]] to x" in c for c in steps.captions)


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


def mlp():
    "A two-layer MLP on a batch of two, with a cross-entropy loss."
    rng = np.random.default_rng(1)
    x = Tensor(rng.normal(size=(2, 3)), name="x")
    W1, b1 = Tensor(rng.normal(size=(3, 2)), name="W1"), Tensor([0.1, -0.1], name="b1")
    W2, b2 = Tensor(rng.normal(size=(2, 3)), name="W2"), Tensor([0.0, 0.2, -0.2], name="b2")
    h = functional.tanh(x @ W1 + b1); h.name = "h"
    logits = h @ W2 + b2; logits.name = "logits"
    loss = cross_entropy(logits, np.array([0, 2])); loss.name = "loss"
    return loss


def step_cases():
    "Graphs whose backward pass a chapter shows step by step, each after backward()."
    rng = np.random.default_rng(0)
    X, W = Tensor(rng.normal(size=(2, 3)), name="X"), Tensor(rng.normal(size=(3, 2)), name="W")
    Z = X @ W; Z.name = "Z"
    Z.backward(np.array([[1.0, -1.0], [0.5, 2.0]]))
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]], name="x")  # a tie in the first row
    m = x.max(axis=1); m.name = "m"
    m.backward(np.array([1.0, -2.0]))
    z = Tensor([[0.5, -1.0, 2.0], [0.0, 1.0, 0.0]], name="z")
    s = softmax(z, axis=1); s.name = "s"
    loss = cross_entropy(z, np.array([2, 1])) + (s * Tensor([1.0, 0.0, -1.0], name="t")).sum()
    loss.name = "L"
    loss.backward()
    net = mlp()
    net.backward()
    return {"matmul": Z, "max with a tie": m, "softmax and cross-entropy": loss, "two-layer MLP": net}


@pytest.mark.parametrize("case", ["matmul", "max with a tie", "softmax and cross-entropy", "two-layer MLP"])
def test_steps_spell_out_each_rule(case):
    "Every frame's caption names the rule of each edge of its node and, when small, the numbers it sends."
    from mlfz.autodiff import edge_gradient
    from mlfz.graph import _summary
    root = step_cases()[case]
    steps = backward_steps(root)
    assert len(steps) == len(topological_order(root)) and steps.nodes[0] is root
    for caption, node in zip(steps.captions, steps.nodes):
        for edge in node.prevs:
            grad = edge_gradient(node, edge)
            assert describe_rule(node, edge) in caption, (caption, describe_rule(node, edge))
            if grad.size <= 6:
                assert f"= {_summary(grad)} to " in caption, caption
    assert "grad" in steps[-1].source and "so far" not in steps[-1].source


def test_a_tie_in_max_is_shared_and_shown():
    x = step_cases()["max with a tie"].prevs[0].prev
    np.testing.assert_array_equal(x.backwards_grad, [[0, 0.5, 0.5], [-2, 0, 0]])
    steps = backward_steps(step_cases()["max with a tie"])
    assert "to the maxima = [[0, 0.5, 0.5], [-2, 0, 0]] to x" in steps.captions[0]
    assert "[[0, 0.5, 0.5],<br align='left'/>&#160;[-2, 0, 0]]" in steps[-1].source


# The width of an output on a page of the site seen at 1280 px (measured: 688 px; at most 790)
COLUMN = 688

MEASURE = """() => {
    const column = document.getElementById('column');
    const pictures = Array.from(column.querySelectorAll('svg')).map(svg => {
        const sizes = Array.from(svg.querySelectorAll('text'))
            .map(t => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a);
        const box = svg.parentElement;
        return {smallest: Math.min(...sizes), right: svg.getBoundingClientRect().right,
                scrolls: box.scrollWidth > box.clientWidth + 1};
    });
    return {right: column.getBoundingClientRect().right, wider: column.scrollWidth > column.clientWidth,
            pictures};
}"""


def shown(browser, html, media="screen"):
    "What a reader sees of `html` in a column of the site: the measures of MEASURE."
    page = browser.new_page(viewport={"width": COLUMN + 100, "height": 900})
    page.emulate_media(media=media)
    page.set_content(f'<body style="margin:0"><div id="column" style="width:{COLUMN}px">{html}</div></body>')
    seen = page.evaluate(MEASURE)
    page.close()
    return seen


def big_scalar_graph():
    "Chapter 04's larger graph: a layer of three tanh units on two inputs and a squared error, 39 values."
    rng = np.random.default_rng(0)
    inputs = [Scalar(v, name=f"x{i}") for i, v in enumerate(rng.uniform(-1, 1, 2))]
    output = Scalar(0.0, name="c")
    for j in range(3):
        w = [Scalar(v, name=f"w{j}{i}") for i, v in enumerate(rng.uniform(-1, 1, 2))]
        h = tanh(w[0] * inputs[0] + w[1] * inputs[1] + Scalar(0.1, name=f"b{j}"))
        output = output + h * Scalar(rng.uniform(-1, 1), name=f"v{j}")
    error = output - Scalar(1.0, name="y")
    loss = error * error; loss.name = "L"
    loss.backward()
    assert len(topological_order(loss)) == 39
    return loss


@pytest.mark.parametrize("case", ["39 values", "two-layer MLP", "a wide chain"])
def test_every_text_of_a_picture_is_legible(browser, case):
    "No text of a picture is shown smaller than 10 px; one that fits at that size does not scroll."
    if case == "a wide chain":  # 60 values side by side: too wide for any page at 10 px
        root, fits = chain(60), False
    else:
        root = big_scalar_graph() if case == "39 values" else mlp()
        if case == "two-layer MLP":
            root.backward()
        root, fits = root, True
    picture = draw_graph(root, rankdir="LR" if case == "a wide chain" else "TB")
    seen = shown(browser, picture._repr_mimebundle_()["text/html"])
    assert not seen["wider"], "the picture widens the page"
    (svg,) = seen["pictures"]
    assert svg["smallest"] >= 10 - 0.05, svg
    assert svg["scrolls"] is not fits, svg  # a picture too wide at 10 px scrolls inside its own box
    printed = shown(browser, picture._repr_mimebundle_()["text/html"], media="print")
    assert not printed["pictures"][0]["scrolls"] and printed["pictures"][0]["right"] <= printed["right"] + 1


@pytest.mark.parametrize("case", ["matmul", "max with a tie", "softmax and cross-entropy", "two-layer MLP"])
@pytest.mark.parametrize("media", ["screen", "print"])
def test_every_frame_of_a_strip_is_on_the_page(browser, case, media):
    "The frames wrap into rows: none is beyond the column, on screen or on paper, and their text is legible."
    seen = shown(browser, backward_steps(step_cases()[case], rankdir="TB")._repr_html_(), media)
    assert not seen["wider"], "the strip widens the page"
    for frame in seen["pictures"]:
        assert frame["right"] <= seen["right"] + 1 and not frame["scrolls"], frame
        if media == "screen":
            assert frame["smallest"] >= 10 - 0.05, frame
