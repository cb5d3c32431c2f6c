"""Speed and memory of the tensor engine against hand-written NumPy: `make bench` (or `python bench/run.py`).

Prints one table of measurements and targets; exits with status 1 if a target is missed. Every
comparison is measured in this one run, alternating the two sides and keeping the best of several
repeats, in float64 on one BLAS thread.
"""
import os

os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")  # before NumPy loads BLAS

import sys
import time
import tracemalloc

import numpy as np

from mlfz.nn.tensor import Tensor
from mlfz.nn.tensor.functional import tanh


def best_times(*fns, repeats=15):
    "The best CPU time of each function (steadier than wall-clock time on a busy machine), the functions run alternately so that load affects all alike."
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
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


# (a) a chain of small elementwise operations, forward and backward

CHAIN = 20_000
rng = np.random.default_rng(0)
a0, c0 = rng.standard_normal(16), rng.uniform(0.4, 0.6, 16)


def chain_tensor():
    x, c = Tensor(a0), Tensor(c0)
    y = x
    for _ in range(CHAIN // 2):
        y = y * c + x
    y.backward()
    return x.backwards_grad, c.backwards_grad


def chain_numpy():
    ys, y = [], a0
    for _ in range(CHAIN // 2):
        ys.append(y)
        y = y * c0 + a0
    grad, grad_x, grad_c = np.ones(16), np.zeros(16), np.zeros(16)
    for y in reversed(ys):
        grad_x = grad_x + grad
        grad_c = grad_c + grad * y
        grad = grad * c0
    return grad_x + grad, grad_c  # the chain starts at x itself


# (b) one epoch of minibatch SGD for an MLP 64-128-64-10 with tanh, batch 64, 2048 samples

SIZES, BATCH, SAMPLES, LR = [64, 128, 64, 10], 64, 2048, 0.01
data = rng.standard_normal((SAMPLES, SIZES[0]))
targets = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], SAMPLES)]
init = [(rng.standard_normal((m, n)) / np.sqrt(m), np.zeros(n)) for m, n in zip(SIZES, SIZES[1:])]


def epoch_tensor():
    params = [(Tensor(w.copy()), Tensor(b.copy())) for w, b in init]
    for start in range(0, SAMPLES, BATCH):
        h = data[start:start + BATCH]  # data is a constant: no gradient is computed for it
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = tanh(h)
        loss = ((h - targets[start:start + BATCH]) ** 2).mean()
        loss.backward()
        for w, b in params:
            w.gradient_update(LR)
            b.gradient_update(LR)
    return [p.value for pair in params for p in pair]


def epoch_numpy():
    params = [(w.copy(), b.copy()) for w, b in init]
    for start in range(0, SAMPLES, BATCH):
        hs = [data[start:start + BATCH]]
        for i, (w, b) in enumerate(params):
            z = hs[-1] @ w + b
            hs.append(np.tanh(z) if i < len(params) - 1 else z)
        diff = hs[-1] - targets[start:start + BATCH]
        grad = 2 * diff / diff.size
        new = []
        for i in reversed(range(len(params))):
            w, b = params[i]
            if i < len(params) - 1:
                grad = grad * (1 - hs[i + 1] ** 2)
            new.append((w - LR * (hs[i].T @ grad), b - LR * grad.sum(axis=0)))
            if i:
                grad = grad @ w.T
        params = new[::-1]
    return [p for pair in params for p in pair]


# (c) tanh(X @ W).sum(), forward and backward, X 512x1024, W 1024x1024

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


def main():
    for ours, theirs in [(chain_tensor, chain_numpy), (epoch_tensor, epoch_numpy), (layer_tensor, layer_numpy)]:
        for got, expected in zip(ours(), theirs()):  # the same computation on both sides
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    chain_t, chain_n = best_times(chain_tensor, chain_numpy)
    epoch_t, epoch_n = best_times(epoch_tensor, epoch_numpy)
    layer_t, layer_n = best_times(layer_tensor, layer_numpy, repeats=9)
    memory_t, memory_n = peak_memory(layer_tensor), peak_memory(layer_numpy)
    per_op_t, per_op_n = chain_t / CHAIN * 1e6, chain_n / CHAIN * 1e6
    rows = [
        ("(a) 20,000-op chain, µs per op", per_op_t, per_op_n, per_op_t, 3.0),
        ("(a) 20,000-op chain, time ratio", chain_t, chain_n, chain_t / chain_n, None),
        ("(b) MLP epoch, time ratio", epoch_t, epoch_n, epoch_t / epoch_n, 1.2),
        ("(c) tanh(X @ W).sum(), time ratio", layer_t, layer_n, layer_t / layer_n, 1.05),
        ("(c) tanh(X @ W).sum(), peak memory ratio", memory_t / 2**20, memory_n / 2**20, memory_t / memory_n, 1.2),
    ]
    print(f"{'benchmark':44s} {'Tensor':>10s} {'NumPy':>10s} {'measure':>8s} {'target':>7s}")
    missed = 0
    for name, ours, theirs, measure, target in rows:
        if target is None:  # shown for comparison only
            print(f"{name:44s} {ours:10.4g} {theirs:10.4g} {measure:8.4f}")
            continue
        ok = measure <= target
        missed += not ok
        print(f"{name:44s} {ours:10.4g} {theirs:10.4g} {measure:8.4f} {'<=':>3s}{target:5.2f} {'ok' if ok else 'MISSED'}")
    print("(times in s, memory in MiB; the chain row compares µs per op)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
