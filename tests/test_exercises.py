"""The exercise checkers of mlfz.exercises: each accepts a right answer, names the typical wrong
ones, reports stubs as "not implemented yet" and exceptions as "raised", and never raises itself."""
import numpy as np
import pytest

from mlfz.autodiff import Edge
from mlfz.exercises import (Feedback, check_backward, check_fix, check_forward, check_shape,
                            check_value)
from mlfz.nn.scalar import Scalar
from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.broadcasting import sum_to_shape


def op(value_fn, rule_x, rule_y=None):
    "A learner-style operation of `x` (and `y`): its value from their arrays, a rule per input."
    def node(*inputs):
        value = value_fn(*(t.value for t in inputs))
        rules = [rule_x, rule_y][:len(inputs)]
        return Tensor(value, [Edge(t, None, rule) for t, rule in zip(inputs, rules)], "op")

    def f(x, y):
        return node(x, y)

    def unary(x):
        return node(x)
    return f if rule_y else unary


def flat(feedback):
    "The message without its line breaks: what a learner reads, whatever the wrapping."
    return " ".join(feedback.message.split())


def reduced(rule):
    "`rule`, its result summed back to the input's shape as broadcasting requires."
    return lambda node, local, prev: sum_to_shape(np.asarray(rule(node, local, prev)), prev.shape)


g = lambda node: node.backwards_grad
# z = x / y, written as a learner would, and its typical mistakes
right_x = reduced(lambda node, _, x: g(node) / node.prevs[1].prev.value)
right_y = reduced(lambda node, _, y: -g(node) * node.value / y.value)
forgot_upstream = reduced(lambda node, _, y: -node.value / y.value)
wrong_sign = reduced(lambda node, _, y: g(node) * node.value / y.value)
# y = x @ w for matrices, and a rule that transposes where it should not
matmul_x = lambda node, _, x: g(node) @ node.prevs[1].prev.value.T
matmul_w = lambda node, _, w: node.prevs[0].prev.value.T @ g(node)
matmul_w_transposed = lambda node, _, w: (node.prevs[0].prev.value.T @ g(node)).T


def test_a_right_rule_passes_in_every_default_case():
    found = check_backward(op(np.divide, right_x, right_y), np.divide)
    assert found and found.status == "passed" and found.mistake is None
    assert "all 5 cases" in flat(found) and "(3, 1) and (1, 3)" in flat(found)
    assert check_backward(lambda a, b: a / b, np.divide)  # the package's own division


@pytest.mark.parametrize("rule_y, mistake", [(forgot_upstream, "upstream"), (wrong_sign, "sign")])
def test_forgetting_the_upstream_gradient_and_a_wrong_sign_are_named(rule_y, mistake):
    found = check_backward(op(np.divide, right_x, rule_y), np.divide)
    assert not found and found.status == "wrong" and found.mistake == mistake
    # the case, its inputs and upstream gradient, the element, both values
    for part in ["the gradient of `y`", "case 1 of 5", "`x` = [[", "upstream gradient = [[",
                 "at y[", "expected", "got", "hint:"]:
        assert part in flat(found)


def test_the_upstream_gradient_is_random_even_for_a_0d_output():
    "With a seed of 1, a 0-d rule that forgets the upstream gradient would pass."
    forgot = op(np.multiply, lambda node, _, x: node.prevs[1].prev.value,
                lambda node, _, y: node.prevs[0].prev.value)
    found = check_backward(forgot, np.multiply, [((), ())])
    assert found.mistake == "upstream"
    scalar_forgot = lambda a, b: Scalar(a.value * b.value, [Edge(a, None, lambda n, _, p: b.value),
                                                           Edge(b, None, lambda n, _, p: a.value)])
    assert check_backward(scalar_forgot, np.multiply, node=Scalar).mistake == "upstream"


def test_a_transposed_gradient_is_named_on_square_and_on_other_shapes():
    matmul = lambda rule_w: op(np.matmul, matmul_x, rule_w)
    assert check_backward(matmul(matmul_w), np.matmul, [((2, 3), (3, 4)), ((3, 3), (3, 3))])
    square = check_backward(matmul(matmul_w_transposed), np.matmul, [((3, 3), (3, 3))])
    assert square.mistake == "transposed" and "swapped" in flat(square)
    oblong = check_backward(matmul(matmul_w_transposed), np.matmul, [((2, 3), (3, 4))])
    assert oblong.mistake == "transposed" and "shape (4, 3)" in flat(oblong)


def test_a_sum_over_the_wrong_axis_is_named():
    def sum_over_axis_0(node, _, prev):  # right only for operands stretched along axis 0
        grad = g(node)
        return grad if grad.shape == prev.value.shape else grad.sum(axis=0).reshape(prev.value.shape)
    found = check_backward(op(np.add, sum_over_axis_0, sum_over_axis_0), np.add, [((3, 1), (1, 3))])
    assert found.mistake == "axis"
    assert "summed over axis 0, but `x` was stretched along axis 1" in flat(found)


def test_a_gradient_of_the_wrong_shape_is_named_before_the_engine_refuses_it():
    unreduced = op(np.add, lambda node, _, x: g(node), lambda node, _, y: g(node))
    found = check_backward(unreduced, np.add, [((2, 3), (3,))])
    assert found.mistake == "shape" and "stretched along axis 0" in flat(found)
    keepdims = op(lambda x: x.sum(axis=1), lambda node, _, x: np.broadcast_to(g(node), x.value.shape))
    assert check_backward(keepdims, lambda x: x.sum(axis=1), [((3, 3),)]).status == "wrong"


def test_a_wrong_value_is_named_before_any_gradient():
    found = check_backward(op(np.subtract, right_x, right_y), np.divide)
    assert found.status == "wrong" and "the value of `f`" in flat(found)


def test_a_forgotten_edge_is_named():
    def no_edge_for_y(x, y):
        return Tensor(x.value / y.value, [Edge(x, None, lambda n, _, p: g(n) / y.value)], "/")
    assert check_backward(no_edge_for_y, np.divide).mistake == "no edge"


def test_a_mistake_the_exercise_knows_is_named_first():
    known = {"you swapped x and y": op(np.divide, reduced(lambda n, _, x: g(n) / x.value), right_y)}
    found = check_backward(known["you swapped x and y"], np.divide, mistakes=known)
    assert found.mistake == "you swapped x and y" and "hint: you swapped x and y" in flat(found)


@pytest.mark.parametrize("learner", [
    lambda x, y: ...,
    lambda x, y: None,
    lambda x, y: (_ for _ in ()).throw(NotImplementedError()),
    op(np.divide, right_x, lambda node, _, y: None),
    op(np.divide, right_x, lambda node, _, y: (_ for _ in ()).throw(NotImplementedError())),
])
def test_a_stub_is_not_implemented_yet(learner):
    found = check_backward(learner, np.divide)
    assert found.status == "not implemented" and found.message.startswith("○ not implemented yet")


def test_an_exception_is_reported_with_its_type_and_the_learners_line():
    def rule_with_typo(node, _, y):
        return -g(node) * node.value / y.valeu
    found = check_backward(op(np.divide, right_x, rule_with_typo), np.divide)
    assert found.status == "raised" and "AttributeError" in flat(found)
    assert "return -g(node) * node.value / y.valeu" in flat(found)
    assert "Traceback" not in flat(found)


@pytest.mark.parametrize("learner", [lambda x, y: "a / b", lambda x, y: np.divide(x.value, y.value),
                                     lambda x, y: Scalar(1.0)])
def test_a_result_that_is_no_tensor_is_wrong_not_a_crash(learner):
    assert check_backward(learner, np.divide).status == "wrong"


def test_scalar_exercises_are_checked_with_scalar_inputs():
    assert check_backward(lambda a, b: a * b - a / b, lambda a, b: a * b - a / b, node=Scalar)
    wrong = lambda a, b: Scalar(a.value * b.value, [Edge(a, -b.value), Edge(b, a.value)])
    assert check_backward(wrong, np.multiply, node=Scalar).status == "wrong"


def test_a_trusted_grad_reference_decides_where_finite_differences_cannot():
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 0.5, 2.0]])
    split = lambda node, _, x: g(node)[:, None] * (x.value == node.value[:, None]) / \
        (x.value == node.value[:, None]).sum(axis=1, keepdims=True)
    first_only = lambda node, _, x: g(node)[:, None] * (np.arange(3) == x.value.argmax(axis=1)[:, None])
    row_max = lambda x: x.max(axis=1)
    assert check_backward(op(row_max, split), row_max, [(ties,)], grad_reference=row_max)
    assert not check_backward(op(row_max, first_only), row_max, [(ties,)], grad_reference=row_max)


def test_check_forward_accepts_nodes_and_arrays_and_names_overflow():
    assert check_forward(lambda x: x.sum(axis=0), lambda x: x.sum(axis=0), [((3, 3),)])
    softmax = lambda x: np.exp(x - x.max(axis=-1, keepdims=True)) / \
        np.exp(x - x.max(axis=-1, keepdims=True)).sum(axis=-1, keepdims=True)
    naive = lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    assert check_forward(softmax, naive, [((2, 3),)], node=np.asarray)
    with np.errstate(over="ignore", invalid="ignore"):
        assert check_forward(naive, softmax, [((2, 3),)], node=np.asarray, scale=1000).mistake == "overflow"
    assert check_forward(lambda x: x.T, lambda x: x, [((3, 3),)]).mistake == "transposed"
    assert check_forward(lambda x: -x, lambda x: x).mistake == "sign"
    assert check_forward(lambda x: "x", lambda x: x).status == "wrong"


def test_check_value_and_check_shape():
    assert check_value(4.0, 4) and check_value(np.eye(2), np.eye(2))
    assert check_value(-4.0, 4).mistake == "sign"
    assert check_value(2.0, 4, mistakes={"one path only": 2.0}).mistake == "one path only"
    wrong = check_value(np.eye(2) * 2, np.eye(2))
    assert "at answer[0, 0]: expected 1, got 2" in flat(wrong)
    for stub in [..., None, lambda: ..., lambda: (_ for _ in ()).throw(NotImplementedError())]:
        assert check_value(stub, 4).status == "not implemented"
        assert check_shape(stub, (3,)).status == "not implemented"
    assert check_value(lambda: 1 / 0, 4).status == "raised"
    assert check_value("four", 4).status == "wrong"
    assert check_shape((2, 3), (2, 3)) and check_shape(lambda: [2, 3], (2, 3))
    assert [check_shape(a, (2, 3, 4)).mistake for a in [(2, 4, 3), (4, 3, 2), (2, 3, 4, 1), 24, (6, 4)]] \
        == ["order", "transposed", "keepdims", "not a tuple", None]
    assert check_shape("2, 3", (2, 3)).status == "wrong"


def test_check_fix_reports_the_untouched_bug_as_not_implemented_yet():
    buggy = op(np.divide, right_x, wrong_sign)
    found = check_fix(buggy, buggy, np.divide)
    assert found.status == "not implemented" and found.mistake == "not fixed"
    assert "still has the bug" in flat(found) and "at y[" in flat(found)
    assert check_fix(op(np.divide, right_x, right_y), buggy, np.divide)
    assert check_fix(op(np.divide, right_x, forgot_upstream), buggy, np.divide).mistake == "upstream"
    buggy_forward = lambda x: x.sum(axis=0)
    assert check_fix(buggy_forward, buggy_forward, lambda x: x.sum(axis=1), [((3, 3),)],
                     forward_only=True).mistake == "not fixed"
    anonymous = lambda *inputs: inputs[0] / inputs[1]  # no names of its own: the reference's
    assert "`x1` = [[" in flat(check_fix(anonymous, anonymous, np.multiply))


def test_feedback_is_printed_once_and_the_same_every_run(capsys):
    first = check_backward(op(np.divide, right_x, wrong_sign), np.divide)
    second = check_backward(op(np.divide, right_x, wrong_sign), np.divide)
    assert first == second and isinstance(first, Feedback)
    assert capsys.readouterr().out == first.message + "\n" + second.message + "\n"
    assert first._ipython_display_() is None  # a notebook shows the printed message only
