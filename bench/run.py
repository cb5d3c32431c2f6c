"""Speed and memory of the engines against hand-written NumPy (and micrograd): `make bench`.

Prints one table, a row per target of the speed issue, and exits with status 1 if a target is
missed. Each comparison is measured in this one run, the two sides alternating and the best of
several repeats kept (CPU time, steadier than wall-clock time on a busy machine), in float64 on
one BLAS thread. The NumPy side computes what the engine computes and no more: with Tensor inputs
the inputs' gradient too, with array inputs none. Rows without a target are shown for comparison.
`python bench/run.py NAME ...` runs only the groups whose names contain a NAME (chain, mlp, layer,
scalar, fit).
"""
import os

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")  # before NumPy loads BLAS

import gc
import random
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from mlfz.nn.scalar import Scalar, relu
from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.functional import tanh
from mlfz.nn.tensor.loss import cross_entropy


def best_times(*fns, repeats=15):
    """The best CPU time of each function, the functions run alternately so that load affects all
    alike; each starts with no garbage left by another (micrograd's graphs are reference cycles)."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            gc.collect()
            start = time.process_time()
            fn()
            best[i] = min(best[i], time.process_time() - start)
    return best


def peak_memory(fn):
    "The peak of memory allocated while `fn` runs (NumPy reports its buffers to tracemalloc)."
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def same_results(ours, theirs):
    "Both sides compute the same numbers (checked once, before timing)."
    for got, expected in zip(ours(), theirs(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


rng = np.random.default_rng(0)

# ---- a chain of small operations, `x * 1.0001` and `x + 0.001` in turn, forward and backward

start16 = rng.standard_normal(16)


def chain_tensor(ops):
    x = Tensor(start16)
    y = x
    for _ in range(ops // 2):
        y = y * 1.0001 + 0.001
    y.backward()
    return [x.backwards_grad]


def chain_numpy(ops):
    y = start16
    for _ in range(ops // 2):
        y = y * 1.0001 + 0.001
    grad = np.ones(16)
    for _ in range(ops // 2):  # the additions pass the gradient on unchanged
        grad = grad * 1.0001
    return [grad]


def chain_numpy_keeping(ops):
    "The same, keeping every value and gradient, as the graph does (its result is every gradient)."
    values, grads = [start16], []
    for _ in range(ops // 2):
        values.append(values[-1] * 1.0001)
        values.append(values[-1] + 0.001)
    grad = np.ones(16)
    for _ in range(ops // 2):
        grads.append(grad)
        grad = grad * 1.0001
        grads.append(grad)
    return [grad]


# ---- an MLP 64-128-64-10 with tanh, one epoch of minibatch SGD over 2048 samples

SIZES, SAMPLES, LR = [64, 128, 64, 10], 2048, 0.01
data = rng.standard_normal((SAMPLES, SIZES[0]))
labels = rng.integers(0, SIZES[-1], SAMPLES)
onehot = np.eye(SIZES[-1])[labels]
init = [(rng.standard_normal((m, n)) / np.sqrt(m), np.zeros(n)) for m, n in zip(SIZES, SIZES[1:])]


def mlp_step_tensor(params, x, target, loss_name, as_tensor):
    "One step; inputs `as_tensor` get a gradient too, as every Tensor does."
    h = Tensor(x) if as_tensor else x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = tanh(h)
    if loss_name == "mse":
        loss = ((h - target) ** 2).mean()
    else:
        loss = cross_entropy(h, target)
    loss.backward()
    for w, b in params:
        w.gradient_update(LR)
        b.gradient_update(LR)
    return float(loss.value)  # the graph is freed when the step returns


def mlp_epoch_tensor(batch, loss_name, as_tensor=True):
    params = [(Tensor(w.copy()), Tensor(b.copy())) for w, b in init]
    targets = onehot if loss_name == "mse" else labels
    for start in range(0, SAMPLES, batch):
        mlp_step_tensor(params, data[start:start + batch], targets[start:start + batch], loss_name,
                        as_tensor)
    return [p.value for pair in params for p in pair]


def mlp_step_numpy(params, x, target, loss_name, input_grad):
    hs = [x]
    for i, (w, b) in enumerate(params):
        z = hs[-1] @ w + b
        hs.append(np.tanh(z) if i < len(params) - 1 else z)
    if loss_name == "mse":
        diff = hs[-1] - target
        loss = np.mean(diff ** 2)
        grad = 2 * diff / diff.size
    else:
        shifted = hs[-1] - hs[-1].max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        rows = np.arange(len(target))
        loss = -np.mean(shifted[rows, target] - np.log(total[:, 0]))
        grad = e / total
        grad[rows, target] -= 1
        grad /= len(target)
    new = []
    for i in reversed(range(len(params))):
        w, b = params[i]
        if i < len(params) - 1:
            grad = grad * (1 - hs[i + 1] ** 2)
        new.append((w - LR * (hs[i].T @ grad), b - LR * grad.sum(axis=0)))
        if i or input_grad:
            grad = grad @ w.T
    params[:] = new[::-1]
    return float(loss)


def mlp_epoch_numpy(batch, loss_name, input_grad=True):
    params = [(w.copy(), b.copy()) for w, b in init]
    targets = onehot if loss_name == "mse" else labels
    for start in range(0, SAMPLES, batch):
        mlp_step_numpy(params, data[start:start + batch], targets[start:start + batch], loss_name,
                       input_grad)
    return [p for pair in params for p in pair]


# ---- tanh(X @ W).sum(), forward and backward, X 512x1024, W 1024x1024

X, W = rng.standard_normal((512, 1024)) / 32, rng.standard_normal((1024, 1024)) / 32


def layer_tensor():
    x, w = Tensor(X), Tensor(W)
    tanh(x @ w).sum().backward()
    return x.backwards_grad, w.backwards_grad


def layer_numpy():
    y = np.tanh(X @ W)
    y.sum()
    grad = 1 - y * y  # the upstream gradient of the sum is 1 everywhere
    return grad @ W.T, X.T @ grad


# ---- Scalar: an MLP 2-16-16-1 with relu, one full-batch step over 64 points, against micrograd

POINTS = [(random.Random(i).uniform(-2, 2), random.Random(-i).uniform(-2, 2)) for i in range(64)]
SIGNS = [1.0 if x * y > 0 else -1.0 for x, y in POINTS]
SCALAR_SIZES = [2, 16, 16, 1]
scalar_init = [[[random.Random(1000 * k + j).uniform(-1, 1) for j in range(m + 1)] for _ in range(n)]
               for k, (m, n) in enumerate(zip(SCALAR_SIZES, SCALAR_SIZES[1:]))]  # weights, then bias


def scalar_mlp_step(make, rectify):
    "One step of the MLP with numbers of type `make` (its parameters' values after the update)."
    layers = [[[make(v) for v in neuron] for neuron in layer] for layer in scalar_init]
    loss = 0.0
    for point, sign in zip(POINTS, SIGNS):
        h = list(point)
        for k, layer in enumerate(layers):
            h = [sum((w * x for w, x in zip(neuron, h)), neuron[-1]) for neuron in layer]
            if k < len(layers) - 1:
                h = [rectify(v) for v in h]
        loss = loss + (h[0] - sign) ** 2
    loss = loss * (1 / len(POINTS))
    loss.backward()
    return [p for layer in layers for neuron in layer for p in neuron]


def scalar_ours():
    params = scalar_mlp_step(Scalar, relu)
    return [[p.value - LR * p.backwards_grad for p in params]]


def scalar_micrograd():
    from micrograd.engine import Value
    params = scalar_mlp_step(Value, Value.relu)
    return [[p.data - LR * p.grad for p in params]]


# ---- Part 4: one `fit` epoch on the digits MLP (inputs as arrays), evaluation under no_grad

def part4():
    "The pieces of Part 4, or None while it has not landed."
    try:
        from mlfz.data import ArrayDataset, DataLoader, load_digits
        from mlfz.nn import Linear, ReLU, Sequential
        from mlfz.optim import SGD
        from mlfz.train import evaluate, fit
    except ImportError:
        return None
    return locals()


def digits_rows(p4):
    "Rows for `fit` and `evaluate` on the digits against the same loops in NumPy."
    digits, digit_labels = p4["load_digits"]()
    loader = p4["DataLoader"](p4["ArrayDataset"](digits, digit_labels), batch_size=64)
    model = p4["Sequential"](p4["Linear"](64, 64), p4["ReLU"](), p4["Linear"](64, 10))
    start = [p.value.copy() for p in model.parameters()]

    def fit_epoch():
        for p, value in zip(model.parameters(), start):
            p.value = value
        p4["fit"](model, cross_entropy, p4["SGD"](model.parameters(), lr=0.1), loader, 1,
                  metrics=(), progress=False)
        return [p.value for p in model.parameters()]

    def numpy_forward(params, x):
        w1, b1, w2, b2 = params
        hidden = np.maximum(x @ w1 + b1, 0)
        return hidden, hidden @ w2 + b2

    def numpy_fit_epoch():
        params = [value.copy() for value in start]
        for x, y in loader:
            hidden, logits = numpy_forward(params, x)
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            grad = e / e.sum(axis=1, keepdims=True)
            grad[np.arange(len(y)), y] -= 1
            grad /= len(y)
            w1, b1, w2, b2 = params
            grad_hidden = (grad @ w2.T) * (hidden > 0)
            params = [w1 - 0.1 * (x.T @ grad_hidden), b1 - 0.1 * grad_hidden.sum(axis=0),
                      w2 - 0.1 * (hidden.T @ grad), b2 - 0.1 * grad.sum(axis=0)]
        return params

    def evaluation():
        return [p4["evaluate"](model, loader, cross_entropy, metrics=())["loss"]]

    def numpy_evaluation():
        params, total = [p.value for p in model.parameters()], 0.0
        for x, y in loader:
            logits = numpy_forward(params, x)[1]
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_s = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            total -= log_s[np.arange(len(y)), y].sum()
        return [total / len(digits)]

    same_results(fit_epoch, numpy_fit_epoch)
    same_results(evaluation, numpy_evaluation)
    fit_t, fit_n = best_times(fit_epoch, numpy_fit_epoch)
    eval_t, eval_n = best_times(evaluation, numpy_evaluation)
    return [("fit: one epoch on the digits MLP", fit_t, fit_n, 1.20),
            ("fit: evaluation under no_grad", eval_t, eval_n, 1.05)]


# ---- the table

def chain_rows():
    short, long, ops = 1_000, 1_000_000, 20_000
    same_results(lambda: chain_tensor(ops), lambda: chain_numpy(ops))
    same_results(lambda: chain_tensor(ops), lambda: chain_numpy_keeping(ops))
    ours, theirs, keeping = best_times(lambda: chain_tensor(ops), lambda: chain_numpy(ops),
                                       lambda: chain_numpy_keeping(ops))
    small, = best_times(lambda: chain_tensor(short), repeats=50)
    large, = best_times(lambda: chain_tensor(long), repeats=3)
    gc.disable()  # what the collector costs at 1M nodes: the caller may pause it, the library may not
    try:
        small_paused, = best_times(lambda: chain_tensor(short), repeats=50)
        large_paused, = best_times(lambda: chain_tensor(long), repeats=3)
    finally:
        gc.enable()
    return [("chain x*1.0001, x+0.001 (16,), 20k ops, per op", ours / ops, theirs / ops, 2.5),
            ("same, NumPy keeping every value and gradient", ours, keeping, None),
            ("same, per op at 1M ops vs at 1k", large / long, small / short, 1.3),
            ("same, with the collector paused by the caller", large_paused / long,
             small_paused / short, None)]


def mlp_rows():
    rows = []
    for loss_name, label in [("mse", "MSE"), ("ce", "cross-entropy")]:
        same_results(lambda: mlp_epoch_tensor(64, loss_name), lambda: mlp_epoch_numpy(64, loss_name))
        ours, theirs = best_times(lambda: mlp_epoch_tensor(64, loss_name),
                                  lambda: mlp_epoch_numpy(64, loss_name))
        rows.append((f"MLP 64-128-64-10 epoch, {label}, batch 64", ours, theirs, 1.25))
    for batch, target in [(16, 2.5), (64, 1.6), (256, 1.2), (1024, 1.2)]:
        ours, theirs = best_times(lambda: mlp_epoch_tensor(batch, "mse"),
                                  lambda: mlp_epoch_numpy(batch, "mse"))
        rows.append((f"MLP batch sweep, MSE, batch {batch}", ours, theirs, target))
    ours, theirs = best_times(lambda: mlp_epoch_tensor(64, "mse", as_tensor=False),
                              lambda: mlp_epoch_numpy(64, "mse", input_grad=False))
    rows.append(("MLP, MSE, batch 64, inputs as arrays", ours, theirs, None))
    return rows


def layer_rows():
    same_results(layer_tensor, layer_numpy)
    ours, theirs = best_times(layer_tensor, layer_numpy, repeats=9)
    return [("tanh(X @ W).sum() 512x1024x1024, time", ours, theirs, 1.02),
            ("same, peak memory", peak_memory(layer_tensor), peak_memory(layer_numpy), 1.21)]


def scalar_rows():
    try:
        import micrograd  # noqa: F401
    except ImportError:
        return [("Scalar MLP 2-16-16-1 epoch vs micrograd", None, "micrograd not installed", 0.45)]
    same_results(scalar_ours, scalar_micrograd)
    ours, theirs = best_times(scalar_ours, scalar_micrograd, repeats=7)
    return [("Scalar MLP 2-16-16-1 epoch vs micrograd", ours, theirs, 0.45)]


def fit_rows():
    p4 = part4()
    if p4 is None:
        return [(name, None, "n/a (Part 4 not landed)", target)
                for name, target in [("fit: one epoch on the digits MLP", 1.20),
                                     ("fit: evaluation under no_grad", 1.05)]]
    return digits_rows(p4)


GROUPS = {"chain": chain_rows, "mlp": mlp_rows, "layer": layer_rows, "scalar": scalar_rows,
          "fit": fit_rows}


def main(names):
    if not names:  # each group in a process of its own: the 1M-node chain's memory stays there
        print(f"{'benchmark':48s} {'ratio':>8s} {'target':>8s}", flush=True)
        runs = [subprocess.run([sys.executable, __file__, "--rows", group]) for group in GROUPS]
        return max(run.returncode for run in runs)
    if names[0] == "--rows":
        names = names[1:]
    else:
        print(f"{'benchmark':48s} {'ratio':>8s} {'target':>8s}")
    missed = 0
    for group, rows in GROUPS.items():
        if not any(name in group for name in names):
            continue
        for name, ours, theirs, target in rows():
            if ours is None:  # not measurable here
                print(f"{name:48s} {theirs:>8s} {'<= ' + format(target, '.2f'):>8s}")
                continue
            ratio = ours / theirs
            if target is None:  # shown for comparison, no target
                print(f"{name:48s} {ratio:8.3f}", flush=True)
                continue
            ok = ratio <= target
            missed += not ok
            print(f"{name:48s} {ratio:8.3f} {'<= ' + format(target, '.2f'):>8s} "
                  f"{'ok' if ok else 'MISSED'}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
