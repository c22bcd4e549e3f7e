"""Fixed elementwise chains printed as one call (fused_chains.py) and shared zero-length
placeholders (placeholders.py): the generated source uses them where they apply, not where they
do not, and every gradient matches finite differences and a closed form."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def _source(f, *args, argnums=0):
    g = sg.grad(f, argnums=argnums)
    return g, g.source_for(*args)


def gate(x, w, b):
    y = 1.0 / (1.0 + np.exp(-(x * w + b)))
    return np.sum(y * y)


def gate_grad(x, w, b):
    y = 1.0 / (1.0 + np.exp(-(x * w + b)))
    gv = 2.0 * y * y * (1.0 - y)
    return gv * w, gv * x, gv


def squashed(x, w):
    t = np.tanh(x * w)
    return np.sum(t * x)


@pytest.mark.parametrize("shapes", [(5, 5, 5), (1, 5, 5), (5, 1, 1), (5, 5, 1)])
def test_sigmoid_gate_fuses_and_broadcasts(shapes):
    rng = np.random.default_rng(sum(shapes))
    x, w, b = (rng.uniform(-1.5, 1.5, n) for n in shapes)
    g, src = _source(gate, x, w, b, argnums=(0, 1, 2))
    assert "rt.sigmoid_adj_1(" in src and "rt.mul_add_1(" in src
    got = g(x, w, b)
    for a, want, arg in zip(got, gate_grad(x, w, b), (x, w, b)):
        want = want if want.shape == arg.shape else want.sum(keepdims=True)
        np.testing.assert_allclose(a, want, rtol=1e-12, atol=1e-14)
    check_grad(gate, x, w, b, argnums=(0, 1, 2))


def test_tanh_adjoint_fuses():
    rng = np.random.default_rng(1)
    x, w = rng.uniform(-1.0, 1.0, 6), rng.uniform(-1.0, 1.0, 6)
    g, src = _source(squashed, x, w, argnums=(0, 1))
    assert "rt.tanh_adj_1(" in src
    t = np.tanh(x * w)
    gx, gw = g(x, w)
    np.testing.assert_allclose(gx, t + x * w * (1.0 - t * t), rtol=1e-12)
    np.testing.assert_allclose(gw, x * x * (1.0 - t * t), rtol=1e-12)
    check_grad(squashed, x, w, argnums=(0, 1))


def test_mismatched_lengths_still_raise():
    g = sg.grad(gate, argnums=(0, 1, 2))
    with pytest.raises(ValueError):
        g(np.ones(3), np.ones(4), np.ones(3))


def test_float32_is_not_fused():
    x, w, b = (np.linspace(-1.0, 1.0, 4, dtype=np.float32) + k for k in (0.0, 0.5, -0.25))
    g, src = _source(gate, x, w, b, argnums=(0, 1, 2))
    assert "sigmoid_adj_1" not in src and "mul_add_1" not in src
    got = g(x, w, b)
    for a, want in zip(got, gate_grad(*(v.astype(np.float64) for v in (x, w, b)))):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, want, rtol=1e-5)


def reused(x, w):
    """The product is read twice: not fused into the sum."""
    p = x * w
    return np.sum(np.tanh(p + x) * p)


def test_shared_intermediate_is_not_fused():
    x, w = np.linspace(0.1, 0.9, 5), np.linspace(-0.4, 0.6, 5)
    g, src = _source(reused, x, w, argnums=(0, 1))
    assert "mul_add_1" not in src
    check_grad(reused, x, w, argnums=(0, 1))


def cell_steps(x, w):
    """Arrays carried through a loop (the last step's gates are read after it): each gets a
    zero-length placeholder before the loop."""
    h = x.copy()
    c = x * 0.5
    tot = 0.0
    for _t in range(3):
        f = 1.0 / (1.0 + np.exp(-(h * w + c)))
        g = np.tanh(h)
        c = c * f + g
        h = f * np.tanh(c)
        tot += np.sum(h * h)
    return tot + np.sum(f * g)


def test_placeholders_are_shared():
    rng = np.random.default_rng(3)
    x, w = rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 4)
    g, src = _source(cell_steps, x, w, argnums=(0, 1))
    assert src.count("rt.empty_f64((0, ))") == 1, src
    placeholder = src.split(" = rt.empty_f64((0, ))")[0].split()[-1]
    assert src.count(f" = {placeholder}\n") >= 2, src  # f and g start from the one placeholder
    check_grad(cell_steps, x, w, argnums=(0, 1))
    py = sg.grad(cell_steps, argnums=(0, 1), backend="python")(x, w)
    for a, b in zip(g(x, w), py):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def product(a, b):
    return np.sum(np.sin(a * b))


@pytest.mark.parametrize("shapes", [(5, 5), (1, 5), (5, 1)])
def test_both_factors_of_a_product_in_one_call(shapes):
    rng = np.random.default_rng(len(shapes) + shapes[0])
    a, b = (rng.uniform(-1, 1, n) for n in shapes)
    g, src = _source(product, a, b, argnums=(0, 1))
    assert "rt.mul_adj_pair_1(" in src and "mul_unbroadcast_1" not in src
    ga, gb = g(a, b)
    c = np.cos(a * b)
    want_a, want_b = c * b, c * a
    np.testing.assert_allclose(ga, want_a if a.size > 1 else want_a.sum(keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(gb, want_b if b.size > 1 else want_b.sum(keepdims=True), rtol=1e-12)
    check_grad(product, a, b, argnums=(0, 1))


def one_factor(a, b):
    return np.sum(np.sin(a * b))


def test_one_factor_stays_single():
    a, b = np.linspace(0.1, 0.5, 4), np.linspace(-0.3, 0.3, 4)
    g, src = _source(one_factor, a, b, argnums=0)
    assert "mul_adj_pair" not in src and "mul_unbroadcast_1" in src
    np.testing.assert_allclose(g(a, b), np.cos(a * b) * b, rtol=1e-12)


def lengths(x, w, b, s):
    """Several rules read the broadcast length of the same operands."""
    y = x * w + b
    lse = np.log(np.sum(np.exp(y)) + 2.0)
    return np.sum(s * (y - lse))


@pytest.mark.parametrize("nb", [5, 1])
def test_repeated_lengths_are_computed_once(nb):
    import re

    rng = np.random.default_rng(nb)
    x, w, b, s = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(nb), rng.standard_normal(5)
    g, src = _source(lengths, x, w, b, s, argnums=(0, 1, 2))
    calls = re.findall(r"rt\.bcast_len\((\w+), (\w+)\)", src)
    assert re.search(r"n_\d+ = n(_\d+)?\n", src), src  # a length copied, not recomputed
    assert len(calls) == len(set(calls)), calls  # no call repeats its operands
    check_grad(lengths, x, w, b, s, argnums=(0, 1, 2))
    py = sg.grad(lengths, argnums=(0, 1, 2), backend="python")(x, w, b, s)
    for a, c in zip(g(x, w, b, s), py):
        np.testing.assert_allclose(a, c, rtol=1e-12)
