"""Tapes pushed and popped together share one list (srcgrad/tape_merge.py): the gradients stay
those of finite differences, and tapes that are not pushed in lockstep keep their own list."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.tape_merge import _mirrored
from srcgrad.testing import check_grad


def cell_steps(w, x):
    h = x.copy()
    c = x * 0.5
    total = 0.0
    for _t in range(4):
        f = np.tanh(h * w + 0.1)
        g = np.sin(c * w)
        c = c * f + g * h
        h = np.tanh(c) * f
        total += np.sum(h * h)
    return total


def branchy_steps(w, x):
    h = x.copy()
    total = 0.0
    for t in range(5):
        a = np.sin(h * w)
        if t % 2 == 0:
            b = np.cos(a + w)  # pushed only on some steps: its own tape
        else:
            b = a * a
        h = a * b + h * 0.5
        total += np.sum(h)
    return total


def nested_steps(w, x):
    h = x.copy()
    total = 0.0
    for _t in range(3):
        z = np.sin(h * w)
        for j in range(2):
            y = np.tanh(z * w + j)
            z = y * z
        h = z + h * 0.25
        total += np.sum(h * z)
    return total


def mixed_steps(w, x):
    """Per-step tapes of a vector and a matrix (different types): one tuple per step."""
    h = x.copy()
    m = np.outer(x, w)
    total = 0.0
    for _t in range(3):
        h = np.tanh(m @ h + w)
        m = m * np.cos(h)[:, None] + np.outer(h, w) * 0.1
        total += np.sum(m) + np.sum(h * h)
    return total


def _args(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)


@pytest.mark.parametrize("fn", [cell_steps, branchy_steps, nested_steps, mixed_steps])
def test_gradients_match_finite_differences(fn):
    for seed in (0, 1):
        w, x = _args(seed=seed)
        check_grad(fn, w, x, argnums=(0, 1))
        value, _ = sg.value_and_grad(fn, argnums=(0, 1))(w, x)
        assert np.isclose(value, fn(w, x), rtol=1e-12)


def test_cell_tapes_share_one_list():
    w, x = _args()
    g = sg.grad(cell_steps, argnums=(0, 1))
    g(w, x)
    src = g.source
    assert "tape_group" in src
    assert src.count(" = []") == 1, src  # every per-step array tape in one list
    # one append of a tuple per step, one pop, the items read back in mirror order
    assert src.count(".append(") == 1 and src.count(".pop()") == 1, src
    assert "tape_group.append(tape_item)" in src and "tape_item_1[0]" in src


def test_tapes_of_different_types_share_one_tuple():
    w, x = _args()
    g = sg.grad(mixed_steps, argnums=(0, 1))
    g(w, x)
    assert g.source.count(".append(") == 1 and g.source.count(" = []") == 1, g.source


def test_conditional_push_keeps_its_own_tape():
    w, x = _args()
    g = sg.grad(branchy_steps, argnums=(0, 1))
    g(w, x)
    appends = [line for line in g.source.splitlines() if ".append(" in line]
    in_loop = [line for line in appends if len(line) - len(line.lstrip()) == 8]
    in_branch = [line for line in appends if len(line) - len(line.lstrip()) > 8]
    assert in_branch and in_loop
    assert all("tape_group." in line for line in in_loop)
    assert not any("tape_group." in line for line in in_branch)


def test_hessian_through_merged_tapes():
    w, x = _args(n=3)
    h = sg.hessian(cell_steps)(w, x)
    eps = 1e-5
    fd = np.empty((3, 3))
    g = sg.grad(cell_steps)
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        fd[:, i] = (g(w + e, x) - g(w - e, x)) / (2 * eps)
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-7)


def _is_mirror(kept, push, pop):
    pu = [t for _, t in push if t in kept]
    po = [t for _, t in pop if t in kept]
    return pu[::-1] == po


def test_mirror_check():
    push = [("push", "a"), ("push", "b"), ("push", "c")]
    pop = [("pop", "c"), ("pop", "b"), ("pop", "a")]
    assert _mirrored(["a", "b", "c"], push, pop) == ["a", "b", "c"]
    # one tape popped out of order: two of the three still mirror each other.
    pop = [("pop", "b"), ("pop", "c"), ("pop", "a")]
    kept = _mirrored(["a", "b", "c"], push, pop)
    assert len(kept) == 2 and _is_mirror(kept, push, pop)
    assert len(_mirrored(["a", "b"], push, [("pop", "a"), ("pop", "b")])) < 2
    # a tape pushed twice per step and popped twice, mirrored
    push2 = [("push", "a"), ("push", "b"), ("push", "a")]
    assert _mirrored(["a", "b"], push2, [("pop", "a"), ("pop", "b"), ("pop", "a")]) == ["a", "b"]
