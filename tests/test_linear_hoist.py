"""A per-point linear map applied once to the sum of the per-point cotangents (linear_hoist.py).

GMM's shape: ``y = L_k (x_i - m_k)`` with ``L_k`` triangular and independent of the point ``i``;
the adjoint sums ``y_bar`` over the points and applies ``L_kᵀ`` once per ``k``.  Each program is
checked against finite differences on both backends; the ones the rewrite must leave alone (a
map that changes with the point, a scratch cotangent carried from one point to the next, a
counter not reset per point) are checked the same way, and the structural tests say where the
rewrite applies (``is_last`` in the generated code).
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def tri_energy(m, lmat, x):
    """sum over points and components of log(1 + |L_k (x_i - m_k)|²), L_k packed like GMM's icf."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    for i in range(n):
        for k in range(kk):
            for j in range(d):
                xc[j] = x[i, j] - m[k, j]
            for j in range(d):
                y[j] = lmat[k, j] * xc[j]
            idx = d
            for col in range(d):
                for row in range(col + 1, d):
                    y[row] = y[row] + lmat[k, idx] * xc[col]
                    idx += 1
            s = 0.0
            for j in range(d):
                s += y[j] * y[j]
            total += np.log(1.0 + s)
    return total


def tri_energy_scaled(m, lmat, x):
    """The map's coefficients change with the point (scaled by x[i, 0]): not hoistable."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    for i in range(n):
        for k in range(kk):
            for j in range(d):
                xc[j] = x[i, j] - m[k, j]
            for j in range(d):
                y[j] = lmat[k, j] * xc[j]
            idx = d
            for col in range(d):
                for row in range(col + 1, d):
                    y[row] = y[row] + lmat[k, idx] * x[i, 0] * xc[col]
                    idx += 1
            s = 0.0
            for j in range(d):
                s += y[j] * y[j]
            total += np.log(1.0 + s)
    return total


def tri_energy_counter(m, lmat, x):
    """The packed index runs on from point to point (wrapping): coefficients change with i."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    size = lmat.shape[1]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    idx = 0
    for i in range(n):
        for k in range(kk):
            for j in range(d):
                xc[j] = x[i, j] - m[k, j]
            for j in range(d):
                y[j] = xc[j]
            for col in range(d):
                for row in range(col + 1, d):
                    y[row] = y[row] + lmat[k, idx % size] * xc[col]
                    idx += 1
            s = 0.0
            for j in range(d):
                s += y[j] * y[j]
            total += np.log(1.0 + s)
    return total


def tri_energy_carried(m, lmat, x):
    """xc keeps its first element from the previous point: the scratch cotangent is carried."""
    n = x.shape[0]
    d = x.shape[1]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    for i in range(n):
        for j in range(1, d):
            xc[j] = x[i, j] - m[0, j]
        xc[0] = xc[0] * 0.5 + x[i, 0] - m[0, 0]
        for j in range(d):
            y[j] = lmat[0, j] * xc[j]
        idx = d
        for col in range(d):
            for row in range(col + 1, d):
                y[row] = y[row] + lmat[0, idx] * xc[col]
                idx += 1
        s = 0.0
        for j in range(d):
            s += y[j] * y[j]
        total += np.log(1.0 + s)
    return total


def coef_branch_on_point(m, lmat, x):
    """The coefficient is doubled in a branch on the point: it changes with i (found by fuzzing:
    the forward loop's own variable was taken for an invariant)."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    for i in range(n):
        for k in range(kk):
            cf = lmat[k, 0]
            if x[i, 0] < 0.0:
                cf = 2.0 * cf
            for j in range(d):
                xc[j] = x[i, j] - m[k, j]
            for r in range(d):
                acc = 0.0
                for c in range(d):
                    acc += lmat[k, c] * cf * xc[c]
                y[r] = acc
            s = 0.0
            for j in range(d):
                s += y[j] * y[j]
            total += np.log(1.0 + s)
    return total


def bound_divided_by_points(m, lmat, x):
    """An inner bound that divides by n: computing it before a loop that runs no iteration would
    divide by zero (found by fuzzing)."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    for i in range(n):
        for k in range(kk * n // n):
            for j in range(d):
                xc[j] = x[i, j] - m[k, j]
            for r in range(d):
                acc = 0.0
                for c in range(d):
                    acc += lmat[k, c] * lmat[k, r] * xc[c]
                y[r] = acc
            s = 0.0
            for j in range(d):
                s += y[j] * y[j]
            total += np.log(1.0 + s)
    return total


def repeated_sweeps(m, lmat, x):
    """Two sweeps over the points: the rewrite goes to the loop over the points (sums of K
    rows), not to the outer loop (n·K rows)."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    for sweep in range(2):
        for i in range(n):
            for k in range(kk):
                for j in range(d):
                    xc[j] = x[i, j] - m[k, j]
                for j in range(d):
                    y[j] = lmat[k, j] * xc[j]
                idx = d
                for col in range(d):
                    for row in range(col + 1, d):
                        y[row] = y[row] + lmat[k, idx] * xc[col]
                        idx += 1
                s = 0.0
                for j in range(d):
                    s += y[j] * y[j]
                total += np.log(1.0 + s) * (sweep + 1.0)
    return total


def dense_map(m, a, x):
    """A dense d×d map shared by all points, nested deeper: sum_i tanh-energy of A (x_i - m)."""
    n = x.shape[0]
    d = x.shape[1]
    xc = np.zeros(d)
    y = np.zeros(d)
    total = 0.0
    for i in range(n):
        for j in range(d):
            xc[j] = x[i, j] - m[j]
        for r in range(d):
            acc = 0.0
            for c in range(d):
                acc += a[r, c] * xc[c]
            y[r] = acc
        for j in range(d):
            total += np.tanh(y[j]) ** 2
    return total


def _inputs(n=5, d=4, kk=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((kk, d)).astype(dtype)
    lmat = (0.5 * rng.standard_normal((kk, d * (d + 1) // 2))).astype(dtype)
    x = rng.standard_normal((n, d)).astype(dtype)
    return m, lmat, x


def _source(f, *args, argnums=(0, 1)):
    return sg.grad(f, argnums=argnums, backend="python").source_for(*args)


@pytest.mark.parametrize("backend", ["python", "cpu"])
@pytest.mark.parametrize("f", [tri_energy, tri_energy_scaled, tri_energy_counter, tri_energy_carried,
                               coef_branch_on_point, bound_divided_by_points, repeated_sweeps],
                         ids=lambda f: f.__name__)
def test_gradient_matches_finite_differences(f, backend):
    args = _inputs()
    check_grad(f, *args, argnums=(0, 1), backend=backend, directions=4)


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_dense_map(backend):
    rng = np.random.default_rng(3)
    d = 4
    args = (rng.standard_normal(d), 0.5 * rng.standard_normal((d, d)), rng.standard_normal((6, d)))
    check_grad(dense_map, *args, argnums=(0, 1), backend=backend, directions=4)
    assert "is_last" in _source(dense_map, *args)


def test_where_it_applies():
    args = _inputs()
    assert "is_last" in _source(tri_energy, *args)
    # the sum over the points feeds the map: L_kᵀ is applied to it, once
    assert "y_bar_sum" in _source(tri_energy, *args)
    text = _source(repeated_sweeps, *args)
    assert "is_last" in text and "i_last" in text and "sweep_last" not in text
    # (the last: its inner bound would be computed before the loop, and a division may raise)
    for f in (tri_energy_scaled, tri_energy_counter, tri_energy_carried, coef_branch_on_point,
              bound_divided_by_points):
        assert "is_last" not in _source(f, *args), f.__name__


@pytest.mark.parametrize("f, backend", [(tri_energy, "python"), (tri_energy, "cpu"),
                                        (bound_divided_by_points, "cpu")])
def test_no_points_and_one_point(f, backend):
    """(bound_divided_by_points on the Python backend: the tapes' sizes, computed before the
    loop, divide by zero there: a known limitation, docs/limitations.md.)"""
    g = sg.grad(f, argnums=(0, 1), backend=backend)
    m, lmat, x = _inputs()
    gm, gl = g(m, lmat, x[:0])
    assert np.all(gm == 0.0) and np.all(gl == 0.0)
    check_grad(f, m, lmat, x[:1], argnums=(0, 1), backend=backend)


def test_matches_the_gradient_without_the_rewrite(monkeypatch):
    """Same numbers (to rounding) as the per-point adjoint the rewrite replaces."""
    from srcgrad import pipeline

    args = _inputs(n=7, d=5, kk=2, seed=4)
    hoisted = sg.grad(tri_energy, argnums=(0, 1), backend="python")(*args)
    monkeypatch.setattr(pipeline, "hoist_linear_maps", lambda gen: 0)
    g = sg.grad(tri_energy, argnums=(0, 1), backend="python")
    g.transform.specs.clear()  # grad objects of one function share their builds
    source = g.transform.specialize_for_values(args).source  # built again, without the rewrite
    assert "is_last" not in source
    namespace: dict = {}
    exec(compile(source, "<plain>", "exec"), namespace)  # the module cache would give the first one
    plain = namespace[g.transform.entry_name](*args)
    for a, b in zip(hoisted, plain):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_float32():
    args64 = _inputs(n=6, d=4, kk=2, seed=5)
    args32 = tuple(a.astype(np.float32) for a in args64)
    g32 = sg.grad(tri_energy, argnums=(0, 1), backend="cpu")(*args32)
    g64 = sg.grad(tri_energy, argnums=(0, 1), backend="cpu")(*args64)
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_hessian_through_the_rewrite():
    """Forward mode over the rewritten adjoint: the Hessian-vector product against differences
    of the gradient."""
    m, lmat, x = _inputs(n=4, d=3, kk=2, seed=6)
    g = sg.grad(tri_energy, backend="python")
    assert "is_last" in g.source_for(m, lmat, x)
    h = sg.hessian(tri_energy, backend="python")(m, lmat, x)
    rng = np.random.default_rng(7)
    v = rng.standard_normal(m.shape)
    eps = 1e-6
    fd = (g(m + eps * v, lmat, x) - g(m - eps * v, lmat, x)) / (2 * eps)
    np.testing.assert_allclose(np.tensordot(h, v, axes=v.ndim), fd, rtol=1e-5, atol=1e-7)
