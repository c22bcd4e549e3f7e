"""W5b — ADBench "diagonal" LSTM: objectives and hand adjoint from benchmarks.adbench.

srcgrad differentiates ADBench's scalar-loop form (and, as a variant, the NumPy
per-step form); the peers run one recurrent form written here against `ops`
(a Python loop over time for PyTorch/autograd, lax.scan for JAX).
"""

from pathlib import Path

from benchmarks import peers
from benchmarks.peers import ToolSpec
from benchmarks.workloads import Case
from benchmarks.workloads.adbench_gmm import find_input

ARGNUMS = (0, 1)  # main_params, extra_params
QUICK = (("data/lstm/lstm_l2_c1024.txt", 128),)  # the first 128 characters only
FULL = (("data/lstm/lstm_l2_c1024.txt", None), ("data/lstm/lstm_l4_c1024.txt", None))


def _layers(ops, main, hidden, cell, z, b):
    """One time step through every layer; returns new hidden and cell lists and the top output."""
    new_h, new_c = [], []
    for j in range(len(hidden)):
        w, bias = main[2 * j], main[2 * j + 1]
        forget = ops.sigmoid(z * w[:b] + bias[:b])
        ingate = ops.sigmoid(hidden[j] * w[b:2 * b] + bias[b:2 * b])
        outgate = ops.sigmoid(z * w[2 * b:3 * b] + bias[2 * b:3 * b])
        change = ops.tanh(hidden[j] * w[3 * b:] + bias[3 * b:])
        c = cell[j] * forget + ingate * change
        z = outgate * ops.tanh(c)
        new_h.append(z)
        new_c.append(c)
    return new_h, new_c, z


def _step_loss(ops, extra, z, target):
    """Σ target · (ŷ − log(Σ exp ŷ + 2)) for one step (ADBench's unshifted "+ 2")."""
    y = z * extra[1] + extra[2]
    return ops.sum(target * (y - ops.log(ops.sum(ops.exp(y)) + 2.0)))


def lstm_form(ops, main, extra, state, sequence):
    """The loss as a Python loop over time steps of whole-vector operations."""
    n_layers = main.shape[0] // 2
    c, b = sequence.shape
    hidden = [state[2 * j] for j in range(n_layers)]
    cell = [state[2 * j + 1] for j in range(n_layers)]
    total = 0.0
    for t in range(c - 1):
        hidden, cell, z = _layers(ops, main, hidden, cell, sequence[t] * extra[0], b)
        total = total + _step_loss(ops, extra, z, sequence[t + 1])
    return -total / ((c - 1) * b)


def lstm_scan(ops, main, extra, state, sequence):
    """JAX's idiomatic form: lax.scan over time, layers unrolled inside the step."""
    n_layers = main.shape[0] // 2
    c, b = sequence.shape

    def step(carry, xs):
        x, target = xs
        hidden, cell, z = _layers(ops, main, list(carry[0]), list(carry[1]), x * extra[0], b)
        return (tuple(hidden), tuple(cell)), _step_loss(ops, extra, z, target)

    init = (tuple(state[2 * j] for j in range(n_layers)), tuple(state[2 * j + 1] for j in range(n_layers)))
    _, losses = ops.lax.scan(step, init, (sequence[:-1], sequence[1:]))
    return -ops.sum(losses) / ((c - 1) * b)


def _case(rel_path: str, chars: int | None) -> Case:
    rel, reason = find_input((rel_path,))
    layers, c_file = Path(rel_path).stem.removeprefix("lstm_").split("_")
    name = f"lstm {layers} c{chars}" if chars else f"lstm {layers} {c_file}"
    if rel is None:
        return Case(name, "adbench_lstm", "ADBench LSTM", tuple, unavailable=reason)
    from benchmarks.adbench import lstm
    from benchmarks.adbench.data import read_lstm

    def make_inputs():
        data = read_lstm(rel)
        return data.main_params, data.extra_params, data.state, data.sequence[:chars].copy()

    drop_value = lambda r: peers.flat(r[1:])  # noqa: E731 - hand adjoint returns (loss, grads...)
    tools = [
        ToolSpec("srcgrad", peers.srcgrad(lstm.lstm_objective_loops, ARGNUMS)),
        ToolSpec("srcgrad", peers.srcgrad(lstm.lstm_objective, ARGNUMS), variant="numpy form"),
        ToolSpec("hand", peers.direct(lstm.lstm_grad_hand, drop_value)),
        ToolSpec("objective", peers.direct(lstm.lstm_objective_njit), kind="objective"),
        ToolSpec("fd", peers.finite_differences(lstm.lstm_objective, ARGNUMS), tol=1e-5),
        *peers.peer_specs(lstm_form, ARGNUMS, jax_forms={"lax.scan": lstm_scan},
                          tangent_fun=lstm.lstm_objective),
    ]
    cut = f", first {chars} characters" if chars else ""
    return Case(name, "adbench_lstm", f"ADBench LSTM {rel}{cut}, gradient in (main, extra params)",
                make_inputs, tools, params={"file": rel, "characters": chars}, time_unit="gradient")


def cases(quick: bool) -> list[Case]:
    return [_case(path, chars) for path, chars in (QUICK if quick else FULL)]
