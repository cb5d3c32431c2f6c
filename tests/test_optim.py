"""mlfz.optim against straightforward NumPy transcriptions of the PyTorch documentation's pseudo-code."""
import math

import numpy as np
import pytest

from mlfz.nn.tensor import Tensor
from mlfz.optim import SGD, Adam, AdamW, CosineAnnealingLR, StepLR, clip_grad_norm

SHAPES = [(), (3,), (2, 3)]
STEPS = 6


# reference algorithms: one parameter, the documented pseudo-code line by line, float64

def reference_sgd(theta, grads, lrs, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    "The values after each step of torch.optim.SGD's documented algorithm."
    values, b = [], None
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        values.append(theta)
    return values


def reference_adam(theta, grads, lrs, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    "The values after each step of torch.optim.Adam's (or, decoupled, AdamW's) documented algorithm."
    beta1, beta2 = betas
    m, v, values = np.zeros_like(theta), np.zeros_like(theta), []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        if decoupled:
            theta = theta - lr * weight_decay * theta
        elif weight_decay != 0:
            g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        values.append(theta)
    return values


def reference(optimizer_class, theta, grads, lrs, options):
    if optimizer_class is SGD:
        return reference_sgd(theta, grads, lrs, **options)
    decoupled = optimizer_class is AdamW
    options = {"weight_decay": 1e-2 if decoupled else 0.0, **options}
    return reference_adam(theta, grads, lrs, decoupled=decoupled, **options)


CASES = [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9}),
    (SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (SGD, {"lr": 0.05, "momentum": 0.7, "weight_decay": 0.2, "nesterov": True}),
    (Adam, {}),
    (Adam, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}),
    (Adam, {"lr": 0.05, "weight_decay": 0.1}),
    (AdamW, {}),
    (AdamW, {"lr": 0.05, "weight_decay": 0.3, "betas": (0.5, 0.9)}),
]
IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in opts.items()) or 'defaults'}" for cls, opts in CASES]


def read_only(array):
    array = np.array(array)
    array.setflags(write=False)
    return array


def run(optimizer_class, options, dtype, rng, lrs=None, missing=()):
    """Step one optimizer over three parameters (shapes SHAPES) with a random read-only gradient per
    step; `missing` holds (step, parameter index) pairs whose gradient is None. Returns the
    parameters, their value after each step, the gradients used, and the optimizer."""
    params = [Tensor(read_only(rng.standard_normal(shape).astype(dtype))) for shape in SHAPES]
    initial = [p.value.copy() for p in params]
    optimizer = optimizer_class(params, **options)
    grads = [[None if (t, i) in missing else read_only(rng.standard_normal(s).astype(dtype))
              for i, s in enumerate(SHAPES)] for t in range(STEPS)]
    history = [[] for _ in params]
    for t in range(STEPS):
        if lrs is not None:
            optimizer.lr = lrs[t]
        for p, g in zip(params, grads[t]):
            p.backwards_grad = g
        copies = [None if g is None else g.copy() for g in grads[t]]
        optimizer.step()
        for i, p in enumerate(params):
            if grads[t][i] is not None:
                np.testing.assert_array_equal(grads[t][i], copies[i])  # gradients untouched
                assert p.backwards_grad is grads[t][i]
            assert p.value.dtype == dtype and p.value.shape == SHAPES[i]
            assert type(p.value) is np.ndarray
            p.value.setflags(write=False)  # as the engine will: the next step must not write in place
            history[i].append(p.value)
    return initial, history, grads, optimizer


def expected_history(optimizer_class, options, initial, grads, lrs, i):
    "The reference values of parameter i, at every step (unchanged where its gradient is None)."
    used = [(t, g[i]) for t, g in enumerate(grads) if g[i] is not None]
    lr = options.get("lr", 1e-3)
    lrs = lrs if lrs is not None else [lr] * STEPS
    options = {k: v for k, v in options.items() if k != "lr"}
    values = reference(optimizer_class, initial[i].astype(np.float64),
                       [g.astype(np.float64) for _, g in used], [lrs[t] for t, _ in used], options)
    out, current = [], initial[i].astype(np.float64)
    by_step = dict(zip([t for t, _ in used], values))
    for t in range(STEPS):
        current = by_step.get(t, current)
        out.append(current)
    return out


def assert_matches_reference(optimizer_class, options, dtype, seed, lrs=None, missing=(), rtol=1e-12, atol=1e-14):
    "Run the optimizer on random gradients and compare every parameter after every step; the optimizer."
    initial, history, grads, optimizer = run(optimizer_class, options, dtype, np.random.default_rng(seed), lrs, missing)
    for i in range(len(SHAPES)):
        expected = expected_history(optimizer_class, options, initial, grads, lrs, i)
        np.testing.assert_allclose(history[i], expected, rtol=rtol, atol=atol)
    return initial, history, optimizer


@pytest.mark.parametrize("optimizer_class, options", CASES, ids=IDS)
def test_matches_pytorch_algorithm_float64(optimizer_class, options):
    assert_matches_reference(optimizer_class, options, np.float64, seed=0)


@pytest.mark.parametrize("optimizer_class, options", CASES, ids=IDS)
def test_float32_stays_float32_state_included(optimizer_class, options):
    _, _, optimizer = assert_matches_reference(optimizer_class, options, np.float32, seed=1, rtol=1e-4, atol=1e-5)
    for state in optimizer.state.values():
        for key, value in state.items():
            if key != "step":
                assert np.asarray(value).dtype == np.float32, key


@pytest.mark.parametrize("optimizer_class, options", CASES, ids=IDS)
def test_learning_rate_changes_take_effect(optimizer_class, options):
    assert_matches_reference(optimizer_class, options, np.float64, seed=2, lrs=[0.1, 0.05, 0.2, 0.0, 0.01, 0.3])


@pytest.mark.parametrize("optimizer_class, options", CASES, ids=IDS)
def test_parameters_without_gradient_are_skipped(optimizer_class, options):
    "A None gradient leaves the value alone and does not advance the state (step count, buffers)."
    missing = {(0, 2), (2, 0), (3, 0), (4, 1)}
    initial, history, _ = assert_matches_reference(optimizer_class, options, np.float64, seed=3, missing=missing)
    assert np.array_equal(history[2][0], initial[2])
    assert history[0][3] is history[0][2] is history[0][1]  # not even replaced


def test_a_step_assigns_new_arrays_and_leaves_the_old_value_alone():
    p = Tensor(read_only([1.0, 2.0]))
    old = p.value
    p.backwards_grad = read_only([0.5, -0.5])
    SGD([p], lr=0.1, momentum=0.9).step()
    assert p.value is not old and old.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(p.value, [0.95, 2.05])


def test_float64_gradient_of_a_float32_parameter_keeps_float32():
    p = Tensor(np.ones(3, dtype=np.float32))
    optimizer = Adam([p], lr=0.1)
    p.backwards_grad = np.array([1.0, -2.0, 3.0])  # float64
    optimizer.step()
    assert p.value.dtype == np.float32 and optimizer.state[p]["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(p.value, [0.9, 1.1, 0.9], rtol=1e-6)


def test_with_the_engine_a_float32_network_stays_float32():
    rng = np.random.default_rng(4)
    X = Tensor(rng.standard_normal((8, 3)).astype(np.float32))
    W = Tensor(rng.standard_normal((3, 2)).astype(np.float32))
    b = Tensor(np.zeros(2, dtype=np.float32))
    optimizer = AdamW([W, b], lr=0.01)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = ((X @ W + b) ** 2).mean()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.value))
    assert W.value.dtype == b.value.dtype == np.float32
    assert losses[-1] < losses[0]


def test_duplicates_are_stepped_once_and_subclasses_are_accepted():
    class Parameter(Tensor):
        pass

    w, v = Parameter(np.array([1.0])), Tensor(np.array([1.0]))
    optimizer = SGD([w, v, w, v], lr=0.5)
    assert len(optimizer.params) == 2 and optimizer.params[0] is w and optimizer.params[1] is v
    w.backwards_grad = v.backwards_grad = np.array([1.0])
    optimizer.step()
    assert w.value.tolist() == [0.5] and v.value.tolist() == [0.5]


def test_zero_grad_sets_every_gradient_to_none():
    params = [Tensor(np.ones(2)), Tensor(np.ones(3))]
    for p in params:
        p.backwards_grad = np.ones_like(p.value)
    optimizer = Adam(iter(params))  # any iterable
    optimizer.zero_grad()
    assert all(p.backwards_grad is None for p in params)
    before = [p.value for p in params]
    optimizer.step()  # no gradients: nothing moves, no state is made
    assert all(p.value is old for p, old in zip(params, before)) and not optimizer.state


def test_a_gradient_of_the_wrong_shape_is_refused_before_anything_moves():
    a, b = Tensor(np.ones((3, 1))), Tensor(np.ones(2))
    a_value = a.value
    a.backwards_grad, b.backwards_grad = np.ones((3, 1)), np.ones(3)
    optimizer = SGD([a, b], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"SGD.*params\[1\].*\(3,\).*\(2,\)"):
        optimizer.step()
    assert a.value is a_value and not optimizer.state


@pytest.mark.parametrize("make, words", [
    (lambda w: SGD([w], lr=-0.1), ["SGD", "learning rate", "-0.1"]),
    (lambda w: SGD([w], lr=float("nan")), ["SGD", "nan"]),
    (lambda w: SGD([w], lr=0.1, momentum=-0.5), ["SGD", "momentum", "-0.5"]),
    (lambda w: SGD([w], lr=0.1, weight_decay=-1e-4), ["SGD", "weight_decay", "-0.0001"]),
    (lambda w: SGD([w], lr=0.1, dampening=-0.1), ["SGD", "dampening", "-0.1"]),
    (lambda w: SGD([w], lr=0.1, nesterov=True), ["SGD", "nesterov", "momentum=0.0"]),
    (lambda w: SGD([w], lr=0.1, momentum=0.9, dampening=0.5, nesterov=True),
     ["SGD", "nesterov", "dampening=0.5"]),
    (lambda w: Adam([w], lr=-1e-3), ["Adam", "learning rate", "-0.001"]),
    (lambda w: Adam([w], betas=(1.0, 0.999)), ["Adam", "betas[0]", "1.0"]),
    (lambda w: Adam([w], betas=(0.9, 1.5)), ["Adam", "betas[1]", "1.5"]),
    (lambda w: Adam([w], betas=(-0.1, 0.999)), ["Adam", "betas[0]", "-0.1"]),
    (lambda w: Adam([w], betas=(0.9,)), ["Adam", "betas", "pair"]),
    (lambda w: Adam([w], eps=-1e-8), ["Adam", "eps", "-1e-08"]),
    (lambda w: Adam([w], weight_decay=-0.1), ["Adam", "weight_decay", "-0.1"]),
    (lambda w: AdamW([w], betas=(0.9, 1.0)), ["AdamW", "betas[1]", "1.0"]),
    (lambda w: AdamW([w], weight_decay=-0.01), ["AdamW", "weight_decay", "-0.01"]),
    (lambda w: SGD([], lr=0.1), ["SGD", "empty"]),
    (lambda w: AdamW([], lr=0.1), ["AdamW", "empty"]),
])
def test_bad_hyperparameters_raise_value_errors_naming_optimizer_and_value(make, words):
    with pytest.raises(ValueError) as error:
        make(Tensor(np.ones(2)))
    assert all(word in str(error.value) for word in words), str(error.value)


@pytest.mark.parametrize("make, words", [
    (lambda w: SGD([w, "b"], lr=0.1), ["SGD", "params[1]", "str"]),
    (lambda w: Adam([w, w, None]), ["Adam", "params[2]", "NoneType"]),
    (lambda w: SGD(w, lr=0.1), ["SGD", "single Tensor"]),
    (lambda w: SGD({"w": w}, lr=0.1), ["SGD", "dict"]),
    (lambda w: SGD(5, lr=0.1), ["SGD", "int"]),
    (lambda w: SGD([w], lr="0.1"), ["SGD", "learning rate"]),
    (lambda w: Adam([w], lr=None), ["Adam", "learning rate"]),
])
def test_bad_params_raise_type_errors_naming_optimizer_and_position(make, words):
    with pytest.raises(TypeError) as error:
        make(Tensor(np.ones(2)))
    assert all(word in str(error.value) for word in words), str(error.value)


def test_a_negative_learning_rate_set_later_is_refused():
    optimizer = SGD([Tensor(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match="SGD.*-1"):
        optimizer.lr = -1
    assert optimizer.lr == 0.1


# schedulers, against PyTorch's recursive get_lr

def pytorch_step_lr(base_lr, step_size, gamma, epochs):
    lrs = [base_lr]
    for epoch in range(1, epochs):
        lrs.append(lrs[-1] if epoch % step_size != 0 else lrs[-1] * gamma)
    return lrs


def pytorch_cosine(base_lr, T_max, eta_min, epochs):
    lrs = [base_lr]
    for epoch in range(1, epochs):
        last = lrs[-1]
        if (epoch - 1 - T_max) % (2 * T_max) == 0:
            lrs.append(last + (base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2)
        else:
            lrs.append((1 + math.cos(math.pi * epoch / T_max)) / (1 + math.cos(math.pi * (epoch - 1) / T_max))
                       * (last - eta_min) + eta_min)
    return lrs


def scheduled(scheduler, epochs):
    "The learning rate of epochs 0 .. epochs-1, as the optimizer sees it and as get_last_lr says."
    lrs = [scheduler.optimizer.lr]
    assert scheduler.get_last_lr() == [lrs[0]]
    for _ in range(epochs - 1):
        scheduler.step()
        lrs.append(scheduler.optimizer.lr)
        assert scheduler.get_last_lr() == [lrs[-1]]
    return lrs


@pytest.mark.parametrize("step_size, gamma", [(1, 0.5), (3, 0.1), (7, 0.9), (4, 1.0)])
def test_step_lr_matches_pytorch(step_size, gamma):
    scheduler = StepLR(SGD([Tensor(np.ones(1))], lr=0.3), step_size=step_size, gamma=gamma)
    np.testing.assert_allclose(scheduled(scheduler, 30), pytorch_step_lr(0.3, step_size, gamma, 30), rtol=1e-12)


@pytest.mark.parametrize("T_max, eta_min", [(1, 0.0), (2, 0.0), (5, 0.0), (10, 0.01), (7, 0.05)])
def test_cosine_matches_pytorch_for_three_half_periods(T_max, eta_min):
    scheduler = CosineAnnealingLR(Adam([Tensor(np.ones(1))], lr=0.1), T_max=T_max, eta_min=eta_min)
    lrs = scheduled(scheduler, 3 * T_max + 1)
    np.testing.assert_allclose(lrs, pytorch_cosine(0.1, T_max, eta_min, 3 * T_max + 1), rtol=1e-9, atol=1e-15)
    assert lrs[T_max] == pytest.approx(eta_min) and lrs[2 * T_max] == pytest.approx(0.1)


def test_the_scheduled_learning_rate_is_the_one_the_next_step_uses():
    p = Tensor(np.array([1.0]))
    optimizer = SGD([p], lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    scheduler.step()
    p.backwards_grad = np.array([1.0])
    optimizer.step()
    assert p.value.tolist() == [0.5] and scheduler.last_epoch == 1


@pytest.mark.parametrize("make, error, words", [
    (lambda o: StepLR(o, step_size=0), ValueError, ["StepLR", "step_size", "0"]),
    (lambda o: StepLR(o, step_size=2.5), ValueError, ["StepLR", "step_size", "2.5"]),
    (lambda o: StepLR(o, step_size=True), ValueError, ["StepLR", "step_size", "True"]),
    (lambda o: StepLR(o, step_size=2, gamma=-0.1), ValueError, ["StepLR", "gamma", "-0.1"]),
    (lambda o: CosineAnnealingLR(o, T_max=0), ValueError, ["CosineAnnealingLR", "T_max", "0"]),
    (lambda o: CosineAnnealingLR(o, T_max=5, eta_min=-1.0), ValueError, ["CosineAnnealingLR", "eta_min"]),
    (lambda o: CosineAnnealingLR(o.params, T_max=5), TypeError, ["CosineAnnealingLR", "optimizer", "list"]),
])
def test_bad_scheduler_arguments(make, error, words):
    with pytest.raises(error) as raised:
        make(SGD([Tensor(np.ones(1))], lr=0.1))
    assert all(word in str(raised.value) for word in words), str(raised.value)


# clip_grad_norm

def gradients(rng, dtype=np.float64, scale=1.0):
    params = [Tensor(np.zeros(shape, dtype=dtype)) for shape in [(3,), (2, 4), ()]]
    for p in params:
        p.backwards_grad = read_only(scale * rng.standard_normal(p.shape).astype(dtype))
    return params


def test_clip_returns_the_total_norm_and_scales_every_gradient_by_one_factor():
    rng = np.random.default_rng(5)
    params = gradients(rng) + [Tensor(np.zeros(2))]  # the last has no gradient: skipped
    originals = [p.backwards_grad for p in params]
    copies = [None if g is None else g.copy() for g in originals]
    total = math.sqrt(sum(np.sum(g**2) for g in originals if g is not None))
    max_norm = total / 3
    assert clip_grad_norm(params, max_norm) == pytest.approx(total, rel=1e-14)
    for p, original, copy in zip(params, originals, copies):
        if original is None:
            assert p.backwards_grad is None
            continue
        np.testing.assert_array_equal(original, copy)  # the old arrays are untouched
        assert p.backwards_grad is not original
        np.testing.assert_allclose(p.backwards_grad, copy * (max_norm / (total + 1e-6)), rtol=1e-15)
    new_total = math.sqrt(sum(np.sum(p.backwards_grad**2) for p in params if p.backwards_grad is not None))
    assert new_total < max_norm and new_total == pytest.approx(max_norm, rel=1e-5)


def test_clip_below_the_bound_changes_nothing():
    params = gradients(np.random.default_rng(6))
    originals = [p.backwards_grad for p in params]
    total = clip_grad_norm(params, max_norm=1e6)
    assert all(p.backwards_grad is g for p, g in zip(params, originals))
    assert total == pytest.approx(math.sqrt(sum(np.sum(g**2) for g in originals)), rel=1e-14)


def test_clip_keeps_float32_and_sums_without_overflow():
    params = gradients(np.random.default_rng(7), np.float32, scale=1e20)  # squares overflow float32
    exact = math.sqrt(sum(np.sum(p.backwards_grad.astype(np.float64) ** 2) for p in params))
    assert clip_grad_norm(params, max_norm=1.0) == pytest.approx(exact, rel=1e-12)
    assert all(p.backwards_grad.dtype == np.float32 for p in params)


def test_clip_accepts_a_single_tensor_and_counts_duplicates_once():
    p = Tensor(np.zeros(2))
    p.backwards_grad = np.array([3.0, 4.0])
    assert clip_grad_norm([p, p], max_norm=10.0) == 5.0
    assert clip_grad_norm(p, max_norm=1.0) == 5.0
    np.testing.assert_allclose(p.backwards_grad, [0.6, 0.8], rtol=1e-6)
    assert clip_grad_norm([], max_norm=1.0) == 0.0


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_clip_refuses_non_finite_gradients(bad):
    p = Tensor(np.zeros(2))
    p.backwards_grad = original = np.array([1.0, bad])
    with pytest.raises(ValueError, match="clip_grad_norm"):
        clip_grad_norm([p], max_norm=1.0)
    assert p.backwards_grad is original


def test_clip_bad_arguments():
    p = Tensor(np.zeros(2))
    with pytest.raises(ValueError, match="clip_grad_norm.*max_norm.*-1"):
        clip_grad_norm([p], max_norm=-1.0)
    with pytest.raises(TypeError, match=r"clip_grad_norm.*params\[1\]"):
        clip_grad_norm([p, np.zeros(2)], max_norm=1.0)
