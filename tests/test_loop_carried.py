"""Loop-carried values that only a save or a reset's position made carried (srcgrad/loop_carried.py).

`rotate_tapes` pushes a re-assigned value at the end of its iteration and pops it at the top of
the reversed one; `localise_resets` zeroes a per-iteration adjoint just before its first use.
Each program below is checked against finite differences on both backends; the ones the moves
must not apply to (a value read in the next iteration, after the loop, or by an enclosing loop)
are checked the same way, and the structural tests say where the moves apply.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def cell_layers(main, x, state):
    """The NumPy-form LSTM's shape: rows of a parameter, gates re-assigned every step."""
    n = x.shape[0]
    st = state.copy()
    total = 0.0
    for t in range(3):
        z = x * (t + 1.0)
        for j in range(2):
            w = main[2 * j]
            b = main[2 * j + 1]
            hidden = st[2 * j]
            cell = st[2 * j + 1]
            forget = 1.0 / (1.0 + np.exp(-(z * w[:n] + b[:n])))
            change = np.tanh(hidden * w[n:] + b[n:])
            cell = cell * forget + change * 0.5
            hidden = forget * np.tanh(cell)
            st[2 * j] = hidden
            st[2 * j + 1] = cell
            z = hidden
        total += np.sum(z * z)
    return total


def carried_read(w, x):
    h = x.copy()
    total = 0.0
    for _ in range(4):
        y = h * h  # the previous iteration's h, and its adjoint reads it
        h = np.tanh(y * w + 0.1)
        total += np.sum(h)
    return total


def read_after_loop(w, x):
    total = 0.0
    v = x * 0.0
    for t in range(3):
        v = np.sin(x * w + t)
        total += np.sum(v * w)
    return total + np.sum(v * v)


def outer_reads_inner(w, x):
    total = 0.0
    for t in range(3):
        v = x + t
        for _ in range(2):
            v = np.tanh(v * w)
        total += np.sum(v * x)  # the inner loop's last v, read by the outer body
    return total


def counted_while(w, x):
    v = x.copy()
    total = 0.0
    k = 0
    while k < 4:
        u = np.sin(v * w)
        v = u * 0.5 + x
        total += np.sum(u * v)
        k += 1
    return total


def broken_loop(w, x, stop):
    total = 0.0
    for t in range(6):
        if t == stop:
            break
        u = np.cos(x * w + t)
        total += np.sum(u * u)
    return total


def twice_per_step(w, x):
    h = x.copy()
    total = 0.0
    for _ in range(3):
        h = np.tanh(h * w)
        g = h * h
        h = np.sin(g + w)
        total += np.sum(h * g)
    return total


def row_used_after(W, x):
    total = 0.0
    row = W[0]
    for j in range(W.shape[0]):
        row = W[j]
        total += np.sum(np.tanh(row[:2] * x[:2]))
    return total + np.sum(row * row)  # the last row's adjoint: not zero when the loop reverses


def skipping_rows(w, x, b, W):
    """A row read per step behind a ``continue``: its adjoint's reset sits in the flag's guard."""
    u = w * 1.0
    for t in range(x.shape[0], 3):  # no step at all when x has 3 or more entries
        if t == 2:
            continue
        p = W[t]
        u = np.tanh(p[:3] * u + b[:3])
    return np.sum(u)


ARGS = {
    "cell_layers": lambda rng: (rng.standard_normal((4, 6)) * 0.5, rng.standard_normal(3) * 0.5,
                                rng.standard_normal((4, 3)) * 0.5),
    "carried_read": lambda rng: (rng.standard_normal(4) * 0.5, rng.standard_normal(4) * 0.5),
    "read_after_loop": lambda rng: (rng.standard_normal(4), rng.standard_normal(4)),
    "outer_reads_inner": lambda rng: (rng.standard_normal(3), rng.standard_normal(3)),
    "counted_while": lambda rng: (rng.standard_normal(3), rng.standard_normal(3)),
    "twice_per_step": lambda rng: (rng.standard_normal(4) * 0.5, rng.standard_normal(4) * 0.5),
    "row_used_after": lambda rng: (rng.standard_normal((3, 4)) * 0.5, rng.standard_normal(4)),
}
FUNCS = {f.__name__: f for f in (cell_layers, carried_read, read_after_loop, outer_reads_inner, counted_while,
                                 twice_per_step, row_used_after)}


@pytest.mark.parametrize("backend", ["python", "cpu"])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradient_matches_finite_differences(name, backend):
    args = ARGS[name](np.random.default_rng(len(name)))
    nums = (0, 1) if name != "cell_layers" else (0, 1, 2)
    check_grad(FUNCS[name], *args, argnums=nums, backend=backend)


@pytest.mark.parametrize("backend", ["python", "cpu"])
@pytest.mark.parametrize("stop", [0, 2, 6])
def test_loop_left_by_break(backend, stop):
    rng = np.random.default_rng(stop)
    check_grad(broken_loop, rng.standard_normal(3), rng.standard_normal(3), stop, argnums=(0, 1), backend=backend)


@pytest.mark.parametrize("backend", ["python", "cpu"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_reset_behind_continue_in_a_loop_that_may_not_run(backend, n):
    """Zeroing the row's adjoint before the reversed loop read the row's shape, which only the
    loop defines: with no step, the Python backend raised UnboundLocalError. The reset now stands
    at its first use, inside the guard."""
    rng = np.random.default_rng(n)
    args = (rng.standard_normal(3) * 0.6, rng.standard_normal(n), rng.standard_normal(3), rng.standard_normal((4, 3)))
    check_grad(skipping_rows, *args, argnums=(0, 2, 3), backend=backend)
    g = sg.grad(skipping_rows, argnums=3, backend=backend)(*args)
    if n >= 3:
        np.testing.assert_array_equal(g, 0.0)


def _source(f, *args, argnums):
    return sg.grad(f, argnums=argnums, backend="python").source_for(*args)


def _reversed_body(text: str, header: str) -> list:
    """The statements (comments dropped) of the first reversed loop whose header contains ``header``."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if "_rev in range(" in line and header in line)
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    body = []
    for line in lines[start + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        if line.strip() and not line.strip().startswith("#"):
            body.append(line.strip())
    return body


def test_cell_gates_are_popped_first_and_not_carried():
    args = ARGS["cell_layers"](np.random.default_rng(0))
    text = _source(cell_layers, *args, argnums=(0, 1, 2))
    inner = _reversed_body(text, "for j_rev")
    assert inner[1].endswith(".pop()")  # after the loop index: the iteration's values, first
    assert "forget = " in " ".join(inner[2:16]) and "change = " in " ".join(inner[2:16])
    # no zero-length placeholder carries the gates into the first iteration any more
    assert "forget = t" not in text.split("for t")[0] and "change = t" not in text.split("for t")[0]
    # the adjoints of the parameter rows are zeroed where each reversed step starts using them
    assert text.count("w_bar = rt.zeros") == 1 and text.count("b_bar = rt.zeros") == 1
    assert any(s.startswith("w_bar = rt.zeros") for s in inner)


def test_value_read_by_next_iteration_keeps_its_save():
    args = ARGS["carried_read"](np.random.default_rng(1))
    body = _reversed_body(_source(carried_read, *args, argnums=(0, 1)), "_rev")
    pops = [k for k, s in enumerate(body) if s.startswith("h = ") and "pop" in s]
    assert pops and pops[-1] > 2  # restored where the forward h was overwritten, not first


def test_row_read_after_loop_keeps_its_reset_at_the_end():
    args = ARGS["row_used_after"](np.random.default_rng(2))
    text = _source(row_used_after, *args, argnums=(0, 1))
    body = _reversed_body(text, "_rev")
    assert body[-1].startswith("row_bar = ")  # zeroed after its use: it starts non-zero
