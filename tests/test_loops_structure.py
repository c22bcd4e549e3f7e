"""What the generated adjoints of loops look like (tapes, recomputation, dead forward sweeps),
the desugaring of early exits, and the rejection of writes the adjoint cannot handle.

Runs on the Python backend (no numba compile): the generated source is the same.
"""

import ast
import inspect
import textwrap

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.desugar import show
from srcgrad.errors import UnsupportedError
from srcgrad.testing import check_grad


def rosen(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def cumprod(x):
    p = 1.0
    s = 0.0
    for i in range(x.shape[0]):
        p = p * np.sin(x[i])
        s += p
    return s


def _body(fn):
    gen = fn.source.split("def ", 1)[1]
    return [ln.strip() for ln in gen.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_rosenbrock_gradient_is_one_loop_without_tape():
    g = sg.grad(rosen, backend="python")
    x = np.linspace(-1.0, 1.5, 7)
    g(x)
    lines = _body(g)
    assert not any("tape_" in ln for ln in lines)
    assert sum(ln.startswith("for ") for ln in lines) == 1  # forward sweep removed
    check_grad(rosen, x, backend="python")


def test_value_and_grad_keeps_forward_sweep_but_no_tape():
    """The value's loop stays apart from the adjoint's (iteration_fusion.py fuses only loops
    that save something on a tape: folded in, the sum would serialise the adjoint's loop)."""
    vg = sg.value_and_grad(rosen, backend="python")
    x = np.linspace(-1.0, 1.5, 7)
    v, g = vg(x)
    assert v == pytest.approx(rosen(x), rel=1e-14)
    np.testing.assert_allclose(g, sg.grad(rosen, backend="python")(x), rtol=1e-14)
    lines = _body(vg)
    assert not any("tape_" in ln for ln in lines)
    assert sum(ln.startswith("for ") for ln in lines) == 2


def test_loop_carried_value_is_taped_in_a_preallocated_array():
    g = sg.grad(cumprod, backend="python")
    g(np.linspace(0.1, 0.9, 5))
    text = g.source
    # trip count known at loop entry: an array of that length, no list
    assert "tape_p = rt.empty_f64(trips" in text and "tape_p[pos_p] = p" in text
    assert ".append(" not in text
    check_grad(cumprod, np.linspace(0.1, 0.9, 5), backend="python")


def test_while_loop_tapes_grow_and_counters_are_undone():
    def f(x):
        i = 0
        s = 1.0
        while s < 10.0:
            s = s * (1.0 + x[i % 3] * i)
            i += 1
        return s

    g = sg.grad(f, backend="python")
    x = np.array([0.3, 0.5, 0.7])
    g(x)
    text = g.source
    assert "tape_s.append(s)" in text  # unknown trip count: a growable list
    assert "i = i - 1" in text and "tape_i" not in text  # i += 1 undone, not taped
    assert "n_iter = n_iter - 1" not in text
    check_grad(f, x, backend="python")


def test_break_continue_return_are_desugared():
    def f(x):
        s = 0.0
        for i in range(x.shape[0]):
            if x[i] < 0.2:
                continue
            if x[i] > 0.9:
                break
            if s > 5.0:
                return s
            s += x[i]
        return s

    tree = ast.parse(textwrap.dedent(inspect.getsource(f))).body[0]
    text = show(tree)
    assert "break" not in text and "continue" not in text
    assert "while" in text and "cont = True" in text and "brk = True" in text
    assert "ret_flag = True" in text
    x = np.array([0.5, 0.1, 0.7, 0.95, 0.3])
    assert sg.jit(f, backend="python")(x) == f(x)
    check_grad(f, x, backend="python")


def write_arg(x):
    x[0] = 2.0 * x[1]
    return x[0] * x[2]


def write_alias(x):
    a = np.zeros(3)
    b = a
    if x[0] > 0:
        b = np.ones(3)
    b[0] = x[0]
    return b[0] * a[0]


def write_view(x):
    a = np.zeros(4)
    v = a[1:]
    v[0] = x[0]
    return a[1]


def view_after_write(x):
    a = np.zeros(4)
    v = a[1:]
    a[2] = x[1]
    return v[1] * x[0]


@pytest.mark.parametrize("fn,construct,line", [
    (write_arg, "store into argument", "x[0] = 2.0 * x[1]"),
    (write_alias, "store into alias", "b = a"),
    (write_view, "store into alias", "v = a[1:]"),
    (view_after_write, "view read after write", "return v[1] * x[0]"),
])
def test_unsupported_writes_are_rejected_at_their_line(fn, construct, line):
    with pytest.raises(UnsupportedError) as info:
        sg.grad(fn, backend="python")(np.array([1.0, 2.0, 3.0]))
    msg = str(info.value)
    assert construct in msg and line in msg and "test_loops_structure.py" in msg


def test_view_read_before_write_is_fine():
    def f(x):
        a = np.zeros(4)
        a[1:3] = x[0:2]
        v = a[1:]
        s = v[0] * v[1]
        a[2] = x[2]
        return s + a[2] * s

    check_grad(f, np.array([1.0, 2.0, 3.0]), backend="python")


def test_jit_still_writes_into_argument():
    x = np.array([1.0, 2.0, 3.0])
    assert sg.jit(write_arg, backend="python")(x) == 12.0
    assert x[0] == 4.0
