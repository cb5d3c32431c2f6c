"""mlfz.train: every clause of fit's contract on small models (batch-weighted epoch losses with a
short last batch, metrics on the validation data, modes and recording during and after training,
a parameter that a step does not reach left alone by it, the scheduler's steps, nothing printed
without progress, clean bars in a notebook), accuracy and evaluate, History.plot, checkpoints,
argument errors, and memory that stays flat over 1,000 steps."""
import gc
import tracemalloc
import weakref

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import mlfz
import mlfz.train as train
from mlfz.data import ArrayDataset, DataLoader
from mlfz.nn.modules import Linear, Module, ReLU, Sequential
from mlfz.nn.normalization import Dropout
from mlfz.nn.tensor import Tensor, is_grad_enabled, no_grad
from mlfz.nn.tensor.loss import cross_entropy, mean_squared_error
from mlfz.optim import SGD, Adam, StepLR
from mlfz.train import History, accuracy, evaluate, fit


def error(exception, f, *args, **kwargs):
    with pytest.raises(exception) as caught:
        f(*args, **kwargs)
    return str(caught.value)


def classification(n=50, features=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


def mlp(features=4, classes=3, seed=0):
    mlfz.manual_seed(seed)
    return Sequential(Linear(features, 8), ReLU(), Linear(8, classes))


def outputs(model, inputs):
    model.eval()
    with no_grad():
        out = model(inputs).value
    model.train()
    return out


class Recorder(Module):
    "Passes its input on, noting the mode and whether recording was on at every call."

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, is_grad_enabled()))
        return x


# --- the epoch loss, weighted by batch size -------------------------------------------------

def test_epoch_losses_are_means_over_samples_with_a_short_last_batch():
    X, y = classification(n=11)
    model = mlp()
    with no_grad():
        mean_of_samples = float(cross_entropy(model(X), y).value)
    loader = DataLoader(ArrayDataset(X, y), batch_size=4)  # 4, 4, 3
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.0), loader, 2, valid_loader=loader,
            progress=False)
    np.testing.assert_allclose(h.train_loss, mean_of_samples, rtol=1e-12)
    np.testing.assert_allclose(h.valid_loss, mean_of_samples, rtol=1e-12)
    with no_grad():
        batch_means = [float(cross_entropy(model(a), b).value) for a, b in loader]
    assert not np.isclose(np.mean(batch_means), mean_of_samples)  # the test can fail


def test_the_training_loss_is_measured_on_the_batches_as_they_are_trained():
    X, y = classification(n=6)
    model = mlp()
    loader = DataLoader(ArrayDataset(X, y), batch_size=4)  # 4, 2
    twin = mlp()
    optimizer, twin_optimizer = SGD(model.parameters(), lr=0.5), SGD(twin.parameters(), lr=0.5)
    losses = []
    for a, b in loader:  # the same loop by hand
        loss = cross_entropy(twin(a), b)
        twin_optimizer.zero_grad()
        loss.backward()
        twin_optimizer.step()
        losses.append((float(loss.value), len(b)))
    h = fit(model, cross_entropy, optimizer, loader, 1, progress=False)
    expected = sum(l * n for l, n in losses) / 6
    assert h.train_loss == [pytest.approx(expected, rel=1e-12)]
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.value, q.value)



class FirstCallOnly(Module):
    "A linear layer plus an `extra` one that only the first call uses: later steps miss it."

    def __init__(self):
        super().__init__()
        self.body, self.extra = Linear(4, 3), Linear(4, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.body(x) + self.extra(x) if self.calls == 1 else self.body(x)


def test_a_parameter_that_a_step_does_not_reach_is_not_moved_by_that_step():
    # backward resets only the gradients of the graph it walks: without zero_grad, `extra`
    # would keep the first step's gradient and Adam would apply it again at every step
    X, y = classification(n=12)
    mlfz.manual_seed(0)
    model = FirstCallOnly()
    after_first_step = []

    def loss_fn(logits, labels):
        if model.calls == 2:
            after_first_step.append(model.extra.weight.value.copy())
        return cross_entropy(logits, labels)

    before = model.extra.weight.value.copy()
    fit(model, loss_fn, Adam(model.parameters(), lr=0.1),
        DataLoader(ArrayDataset(X, y), batch_size=4), 1, progress=False)  # 3 steps
    assert model.calls == 3 and not np.array_equal(after_first_step[0], before)
    np.testing.assert_array_equal(model.extra.weight.value, after_first_step[0])

# --- History, metrics --------------------------------------------------------------------------

def test_history_has_one_entry_per_epoch_and_metrics_on_the_validation_data():
    X, y = classification(n=40)
    Xv, yv = classification(n=13, seed=1)
    model = mlp()
    seen = []

    def samples(logits, labels):
        seen.append(len(labels))
        return len(labels)

    valid = DataLoader(ArrayDataset(Xv, yv), batch_size=5)
    h = fit(model, cross_entropy, Adam(model.parameters(), lr=0.05),
            DataLoader(ArrayDataset(X, y), batch_size=8, shuffle=True, seed=0), 3, valid,
            metrics=(accuracy, samples), progress=False)
    assert len(h) == 3 and len(h.train_loss) == 3 and len(h.valid_loss) == 3
    assert list(h.metrics) == ["accuracy", "samples"]
    assert h.metrics["samples"] == [13, 13, 13] and seen == [13, 13, 13]  # all samples at once
    assert all(isinstance(v, float) for v in h.train_loss + h.valid_loss + h.metrics["accuracy"])
    assert h.metrics["accuracy"][-1] == accuracy(outputs(model, Xv), yv)
    assert h.valid_loss[-1] == pytest.approx(evaluate(model, valid, cross_entropy)["loss"])


def test_without_valid_loader_there_is_no_validation_loss_and_no_metric():
    X, y = classification()
    model = mlp()
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1),
            DataLoader(ArrayDataset(X, y), batch_size=16), 2, progress=False)
    assert len(h) == 2 and h.valid_loss == [] and h.metrics == {}
    assert "2 epochs" in repr(h) and "valid_loss" not in h.summary() and h.summary().startswith("loss ")


def test_no_metrics():
    X, y = classification()
    model = mlp()
    loader = DataLoader(ArrayDataset(X, y), batch_size=16)
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), loader, 1, loader,
            metrics=(), progress=False)
    assert h.metrics == {} and len(h.valid_loss) == 1
    assert evaluate(model, loader, cross_entropy, metrics=()).keys() == {"loss"}


def test_a_regression_loss_and_metric():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    mlfz.manual_seed(0)
    model = Linear(3, 1)

    def max_error(preds, targets):
        return np.abs(preds - targets).max()

    loader = DataLoader(ArrayDataset(X, y), batch_size=7)
    h = fit(model, mean_squared_error, SGD(model.parameters(), lr=0.1), loader, 30, loader,
            metrics=(max_error,), progress=False)
    assert h.train_loss[-1] < 0.01 * h.train_loss[0] and h.metrics["max_error"][-1] < 0.2


# --- modes and recording -----------------------------------------------------------------------

def test_training_records_in_training_mode_and_evaluation_does_not_in_eval_mode():
    X, y = classification(n=10)
    recorder = Recorder()
    model = Sequential(recorder, Linear(4, 3))
    loader = DataLoader(ArrayDataset(X, y), batch_size=5)
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), loader, 2, loader, progress=False)
    assert recorder.calls == [(True, True)] * 2 + [(False, False)] * 2 + \
        [(True, True)] * 2 + [(False, False)] * 2
    assert model.training and recorder.training and is_grad_enabled()


def test_the_model_is_back_in_training_mode_after_fit_raises():
    X, y = classification(n=10)
    model = Sequential(Linear(4, 3), Dropout(0.5))
    model.eval()
    calls = []

    def failing_loss(logits, labels):
        calls.append(is_grad_enabled())
        if len(calls) == 3:  # the first validation batch
            raise RuntimeError("boom")
        return cross_entropy(logits, labels)

    loader = DataLoader(ArrayDataset(X, y), batch_size=5)
    with pytest.raises(RuntimeError, match="boom"):
        fit(model, failing_loss, SGD(model.parameters(), lr=0.1), loader, 2, loader,
            progress=False)
    assert calls == [True, True, False]
    assert model.training and all(m.training for m in model.modules()) and is_grad_enabled()


def test_evaluate_restores_the_mode_it_found():
    X, y = classification(n=10)
    model = Sequential(Linear(4, 3), Dropout(0.5))
    loader = DataLoader(ArrayDataset(X, y), batch_size=4)
    evaluate(model, loader, cross_entropy)
    assert model.training
    model.eval()
    first = evaluate(model, loader, cross_entropy)
    assert not model.training
    assert evaluate(model, loader, cross_entropy) == first  # eval mode: no dropout, same result


def test_evaluate_gives_the_loss_and_metrics_of_the_whole_set():
    X, y = classification(n=23)
    model = mlp()
    scores = evaluate(model, DataLoader(ArrayDataset(X, y), batch_size=5), cross_entropy)
    with no_grad():
        logits = model(X)
    assert scores.keys() == {"loss", "accuracy"}
    assert scores["loss"] == pytest.approx(float(cross_entropy(logits, y).value), rel=1e-12)
    assert scores["accuracy"] == accuracy(logits.value, y)


def test_evaluate_runs_in_eval_mode_without_recording():
    X, y = classification(n=12)
    recorder = Recorder()
    model = Sequential(recorder, Linear(4, 3))
    evaluate(model, DataLoader(ArrayDataset(X, y), batch_size=5), cross_entropy)
    assert recorder.calls == [(False, False)] * 3  # batches of 5, 5 and 2
    assert model.training and is_grad_enabled()


def test_inputs_reach_the_model_as_plain_arrays():
    X, y = classification(n=8)
    kinds = []

    class Probe(Module):
        def forward(self, x):
            kinds.append(type(x))
            return x

    model = Sequential(Probe(), Linear(4, 3))
    batches = [(Tensor(X[:4]), y[:4]), (list(X[4:]), y[4:])]  # a list of batches is a loader too
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), batches, 1, batches,
        progress=False)
    assert kinds == [np.ndarray] * 4


# --- the scheduler --------------------------------------------------------------------------

def test_the_scheduler_steps_once_per_epoch():
    X, y = classification(n=20)
    model = mlp()
    optimizer = SGD(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    lrs = []

    def loss_noting_lr(logits, labels):
        lrs.append(optimizer.lr)
        return cross_entropy(logits, labels)

    fit(model, loss_noting_lr, optimizer, DataLoader(ArrayDataset(X, y), batch_size=10), 3,
        scheduler=scheduler, progress=False)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25] and optimizer.lr == 0.125


# --- progress --------------------------------------------------------------------------------

def test_progress_false_prints_nothing(capsys):
    X, y = classification()
    model = mlp()
    loader = DataLoader(ArrayDataset(X, y), batch_size=16)
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), loader, 2, loader, progress=False)
    evaluate(model, loader, cross_entropy)
    assert capsys.readouterr() == ("", "")


def test_progress_draws_one_bar_per_epoch_on_stderr(capsys):
    X, y = classification()
    model = mlp()
    loader = DataLoader(ArrayDataset(X, y), batch_size=16)
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), loader, 2, loader)
    out, err = capsys.readouterr()
    assert out == ""
    final = [line.rsplit("\r", 1)[-1] for line in err.strip("\n").split("\n")]
    assert len(final) == 2 and final[0].startswith("epoch 1/2") and final[1].startswith("epoch 2/2")
    assert f"4/4" in final[1] and f"valid_loss {h.valid_loss[1]:.4f}" in final[1]
    assert f"accuracy {h.metrics['accuracy'][1]:.4f}" in final[1]


def test_in_a_notebook_the_bars_are_one_output_holding_their_final_state(monkeypatch):
    IPython = pytest.importorskip("IPython")
    shown = []

    class Handle:
        def update(self, bundle, raw):
            shown.append(bundle["text/plain"])

    class ZMQInteractiveShell:  # what get_ipython() is in a Jupyter kernel
        pass

    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw, display_id: Handle())
    X, y = classification()
    model = mlp()
    loader = DataLoader(ArrayDataset(X, y), batch_size=16)
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), loader, 3, loader)
    lines = shown[-1].split("\n")
    assert len(lines) == 3 and "\r" not in shown[-1]
    assert [line.split(" ", 2)[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all(line == line.rstrip() and "█" in line for line in lines)
    assert lines[2].endswith(f", {h.summary()}]")


# --- History.plot ------------------------------------------------------------------------------

def test_history_plot_returns_a_figure_with_the_curves():
    import matplotlib.pyplot as plt

    h = History(["accuracy"])
    h.train_loss += [1.0, 0.5, 0.25]
    h.valid_loss += [1.1, 0.7, 0.6]
    h.metrics["accuracy"] += [0.5, 0.7, 0.8]
    fig = h.plot()
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    losses, metrics = fig.axes
    assert [line.get_label() for line in losses.lines] == ["train", "validation"]
    np.testing.assert_array_equal(losses.lines[1].get_xydata(), [[1, 1.1], [2, 0.7], [3, 0.6]])
    np.testing.assert_array_equal(metrics.lines[0].get_ydata(), [0.5, 0.7, 0.8])
    plt.close(fig)
    only_training = History()
    only_training.train_loss.append(2.0)
    fig = only_training.plot()
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    plt.close(fig)
    assert "no epochs" in error(ValueError, History().plot)


# --- checkpoints ---------------------------------------------------------------------------

def test_a_checkpoint_saved_after_fit_and_loaded_gives_identical_predictions(tmp_path):
    X, y = classification()
    model = mlp()
    fit(model, cross_entropy, Adam(model.parameters(), lr=0.05),
        DataLoader(ArrayDataset(X, y), batch_size=16, shuffle=True, seed=0), 3, progress=False)
    model.save(tmp_path / "best.npz")
    fresh = mlp(seed=1)
    assert not np.array_equal(outputs(fresh, X), outputs(model, X))
    fresh.load(tmp_path / "best.npz")
    np.testing.assert_array_equal(outputs(fresh, X), outputs(model, X))


# --- memory ------------------------------------------------------------------------------------

def test_no_step_keeps_its_graph_alive_into_the_next_step():
    X, y = classification(n=40)
    model = mlp()
    graphs = []  # weak references to each step's loss

    def loss_fn(logits, labels):
        assert all(ref() is None for ref in graphs), "an earlier step's graph is still alive"
        loss = cross_entropy(logits, labels)
        graphs.append(weakref.ref(loss))
        return loss

    gc_state = gc.isenabled(), gc.get_threshold()
    gc.disable()  # reference counting alone must free the graph
    try:
        fit(model, loss_fn, Adam(model.parameters()),
            DataLoader(ArrayDataset(X, y), batch_size=8), 2, progress=False)
    finally:
        if gc_state[0]:
            gc.enable()
    assert len(graphs) == 10 and (gc.isenabled(), gc.get_threshold()) == gc_state


def test_a_thousand_training_steps_do_not_grow_memory():
    X, y = classification(n=3000 * 8)
    model = mlp()
    optimizer = Adam(model.parameters())
    # untraced first: Python's free lists of small objects (2,000 pairs, ...) fill up slowly,
    # and traced they would look like 100 kB of growth
    fit(model, cross_entropy, optimizer, DataLoader(ArrayDataset(X, y), batch_size=12), 1,
        progress=False)
    memory = np.zeros(1000, dtype=np.int64)  # filled in place: the record itself takes no memory
    step = iter(range(1000))

    def loss_fn(logits, labels):
        memory[next(step)] = tracemalloc.get_traced_memory()[0]
        return cross_entropy(logits, labels)

    loader = DataLoader(ArrayDataset(X[:8000], y[:8000]), batch_size=8)  # 1,000 steps
    tracemalloc.start()
    try:
        fit(model, loss_fn, optimizer, loader, 1, progress=False)
    finally:
        tracemalloc.stop()
    assert next(step, None) is None
    early, late = np.median(memory[100:200]), np.median(memory[900:])
    assert late - early < 5_000, f"memory grew by {late - early:.0f} bytes over 800 steps"



def test_matplotlib_and_tqdm_are_runtime_dependencies():
    import configparser
    from pathlib import Path

    settings = configparser.ConfigParser()
    settings.read(Path(__file__).parent.parent / "settings.ini")
    needed = {line.split(">")[0].split("=")[0].split("<")[0]
              for line in settings["DEFAULT"]["requirements"].split()}
    assert {"matplotlib", "tqdm"} <= needed

# --- accuracy ----------------------------------------------------------------------------------

def test_accuracy():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    assert accuracy(logits, np.array([0, 1, 2, 1])) == 0.75
    assert accuracy(Tensor(logits), np.array([0, 1, 2, 0], dtype=np.uint8)) == 1.0
    assert isinstance(accuracy(logits, np.array([0, 1, 2, 1])), float)


@pytest.mark.parametrize("logits, labels, exception, message", [
    (np.zeros((2, 3)), np.array([[1.0, 0, 0], [0, 1, 0]]), TypeError, "class indices"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), TypeError, "labels.argmax(axis=1)"),
    (np.zeros((2, 3)), np.array([True, False]), TypeError, "dtype bool"),
    (np.zeros(3), np.array([0]), ValueError, "shape (samples, classes), got shape (3,)"),
    (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, "labels of shape (3,) for logits of shape (2, 3)"),
    (np.zeros((2, 3)), np.array([0, 3]), ValueError, "label 3 is not a class index for 3 classes"),
    (np.zeros((2, 3)), np.array([-1, 0]), ValueError, "label -1"),
    (np.zeros((0, 3)), np.array([], dtype=int), ValueError, "no samples"),
    (np.array([[np.nan, 0.0]]), np.array([0]), ValueError, "nan"),
])
def test_accuracy_refuses(logits, labels, exception, message):
    assert message in error(exception, accuracy, logits, labels)


# --- argument errors ---------------------------------------------------------------------------

def fit_error(exception, **changes):
    X, y = classification(n=10)
    model = mlp()
    loader = DataLoader(ArrayDataset(X, y), batch_size=5)
    arguments = dict(model=model, loss_fn=cross_entropy, optimizer=SGD(model.parameters(), lr=0.1),
                     train_loader=loader, epochs=1, valid_loader=loader, progress=False)
    arguments.update(changes)
    message = error(exception, fit, **arguments)
    assert message.startswith("fit: ")
    return message


@pytest.mark.parametrize("changes, exception, message", [
    (dict(epochs=0), ValueError, "epochs must be a positive integer, got 0"),
    (dict(epochs=-2), ValueError, "got -2"),
    (dict(epochs=1.0), TypeError, "got 1.0"),
    (dict(epochs=True), TypeError, "got True"),
    (dict(epochs="3"), TypeError, "got '3'"),
    (dict(model=lambda x: x), TypeError, "model must be a Module"),
    (dict(loss_fn="cross_entropy"), TypeError, "loss_fn must be a function, got str"),
    (dict(optimizer=object()), TypeError, "optimizer must have zero_grad() and step()"),
    (dict(train_loader=iter([])), TypeError, "train_loader must be a DataLoader (iterable, with len), got list_iterator"),
    (dict(train_loader=[]), ValueError, "train_loader has no batches"),
    (dict(valid_loader=5), TypeError, "valid_loader must be a DataLoader"),
    (dict(scheduler=object()), TypeError, "scheduler must have step()"),
    (dict(metrics=accuracy), TypeError, "write metrics=(f,)"),
    (dict(metrics=5), TypeError, "metrics must be a tuple of functions, got int"),
    (dict(metrics=("accuracy",)), TypeError, "metrics[0] is a str, not a function"),
    (dict(metrics=(lambda l, y: 0.0,)), ValueError, "metrics[0] has no name of its own ('<lambda>')"),
    (dict(metrics=(accuracy, accuracy)), ValueError, "two results would be named 'accuracy'"),
    (dict(progress="yes"), TypeError, "progress must be True or False, got 'yes'"),
])
def test_fit_refuses_bad_arguments(changes, exception, message):
    assert message in fit_error(exception, **changes)


def test_fit_refuses_bad_batches():
    X, y = classification(n=4)
    assert "pair (inputs, labels), got a tuple of 3" in fit_error(
        ValueError, train_loader=[(X, y, y)])
    assert "got a ndarray" in fit_error(ValueError, train_loader=X)
    assert "inputs of shape (4, 4) and labels of shape (3,)" in fit_error(
        ValueError, train_loader=[(X, y[:3])])
    loss_name = fit_error(ValueError, train_loader=[(X, y)], loss_fn=lambda logits, labels: logits)
    assert "loss_fn must return one number" in loss_name and "shape (4, 3)" in loss_name
    assert "must return a Tensor" in fit_error(TypeError, train_loader=[(X, y)],
                                               loss_fn=lambda logits, labels: 1.0)


def test_a_nan_loss_stops_fit_before_it_reaches_the_weights():
    X, y = classification(n=10)
    model = mlp()
    before = []

    def diverging(logits, labels):
        before.append([p.value.copy() for p in model.parameters()])
        loss = cross_entropy(logits, labels)
        return loss * np.nan if len(before) == 2 else loss

    message = error(FloatingPointError, fit, model, diverging, SGD(model.parameters(), lr=0.1),
                    DataLoader(ArrayDataset(X, y), batch_size=5), 1, progress=False)
    assert "fit: the loss is nan at epoch 1, batch 2" in message
    for p, value in zip(model.parameters(), before[1]):
        np.testing.assert_array_equal(p.value, value)
    assert not np.array_equal(before[0][0], before[1][0])  # the first step did move them


def test_evaluate_refuses_bad_arguments():
    X, y = classification(n=10)
    model = mlp()
    loader = DataLoader(ArrayDataset(X, y), batch_size=5)
    assert error(TypeError, evaluate, model, 3, cross_entropy).startswith("evaluate: loader")
    assert "evaluate: model must be a Module" in error(TypeError, evaluate, None, loader,
                                                        cross_entropy)
    assert "evaluate: the metric nothing returned None" in error(
        TypeError, evaluate, model, loader, cross_entropy, metrics=(lambda_free_nothing,))
    assert "evaluate: the loss is inf at batch 1" in error(
        FloatingPointError, evaluate, model, loader, lambda logits, labels: np.inf)
    assert model.training


def lambda_free_nothing(logits, labels):
    return None


lambda_free_nothing.__name__ = "nothing"
