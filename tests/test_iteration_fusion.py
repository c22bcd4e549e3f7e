"""Independent iterations recomputed right before their adjoint (iteration_fusion.py).

Each program is checked against finite differences on both backends.  The structural tests say
where the rewrite applies: the forward loop over the points is gone from the generated code,
and only the reversed one (``for i_rev in range``) is left.  The programs it must leave alone
read, in some iteration, a value an earlier iteration wrote (a scratch element never rewritten,
a scalar set only in a branch, an accumulating buffer, a recurrence) or need the forward loop's
values after it.
"""

import re

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def mixture(m, w, x):
    """A GMM-shaped objective: per point, a scratch row per component, a log-sum-exp over them."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    xc = np.zeros(d)
    score = np.zeros(kk)
    total = 0.0
    for i in range(n):
        for k in range(kk):
            for j in range(d):
                xc[j] = w[k, j] * (x[i, j] - m[k, j])
            s = 0.0
            for j in range(d):
                s += xc[j] * xc[j]
            score[k] = -0.5 * s
        mx = score[0]
        for k in range(1, kk):
            mx = max(mx, score[k])
        se = 0.0
        for k in range(kk):
            se += np.exp(score[k] - mx)
        total += mx + np.log(se)
    return total


def overwrites(m, w, x):
    """The same element overwritten several times per point, a packed index reset per point."""
    n = x.shape[0]
    d = x.shape[1]
    buf = np.zeros(d)
    total = 0.0
    for i in range(n):
        for j in range(d):
            buf[j] = x[i, j] - m[0, j]
        idx = 0
        for col in range(d):
            for row in range(col + 1, d):
                buf[row] = buf[row] + w[0, idx % d] * buf[col]
                idx += 1
        for j in range(d):
            buf[j] = np.tanh(buf[j] * w[1, j])
        for j in range(d):
            total += buf[j] * buf[j] * m[1, j]
    return total


def grid_rows(m, w, x):
    """A 2-D scratch array filled by two nested loops per point."""
    n = x.shape[0]
    d = x.shape[1]
    kk = m.shape[0]
    g = np.zeros((kk, d))
    total = 0.0
    for i in range(n):
        for k in range(kk):
            for j in range(d):
                g[k, j] = np.sin(w[k, j] * x[i, j] + m[k, j])
        for k in range(kk):
            for j in range(d):
                total += g[k, j] * g[kk - 1 - k, j]
    return total


# --- must stay two sweeps --------------------------------------------------------------------


def partly_filled(m, w, x):
    """buf[0] is never rewritten inside the loop: what one point leaves, the next reads."""
    n = x.shape[0]
    d = x.shape[1]
    buf = np.zeros(d)
    buf[0] = m[0, 0]
    total = 0.0
    for i in range(n):
        for j in range(1, d):
            buf[j] = buf[j - 1] * w[0, j] + x[i, j]
        buf[0] = buf[d - 1] * 0.5
        for j in range(d):
            total += buf[j] * m[1, j]
    return total


def conditional_fill(m, w, x):
    """Elements rewritten only where the point's coordinate is positive.  The forward loop's
    copy of the sum below is dead (only the gradient is asked for), but the reversed loop still
    reads ``buf``: the check runs on the user's loop, not on what is left of it."""
    n = x.shape[0]
    d = x.shape[1]
    buf = np.zeros(d)
    total = 0.0
    for i in range(n):
        for j in range(d):
            if x[i, j] > 0.0:
                buf[j] = x[i, j] * w[0, j] + m[0, j]
        for j in range(d):
            total += buf[j] * buf[j] * m[1, j]
    return total


def read_before_set(m, w, x):
    """h is read before it is set: each point reads the previous point's h (found by fuzzing:
    the forward loop's copy read h only to push it, and the reversed body popped it back)."""
    n = x.shape[0]
    h = 0.5
    total = 0.0
    for i in range(n):
        total += h * w[0, 0]
        h = x[i, 0] * w[0, 1] + m[0, 0]
    return total


def fresh_scratch(m, w, x):
    """A scratch array allocated in every iteration: the adjoint sizes its cotangent from the
    last one, after the loop (found by fuzzing: with the loop deleted it saw the placeholder)."""
    n = x.shape[0]
    d = x.shape[1]
    total = 0.0
    for i in range(n):
        tmp = np.zeros(d)
        for j in range(d):
            tmp[j] = x[i, j] * w[0, j]
        s = 0.0
        for j in range(d):
            s += tmp[j] * tmp[j] * m[0, j]
        total += s
    return total


def chained_sums(m, w, x):
    """s adds s2's running value: s2 is not a sum whose partial values nobody reads (found by
    fuzzing: both counted as sums, the copy added s2 in reversed order, d/dm[0, 0] came out
    wrong)."""
    n = x.shape[0]
    s = 0.0
    s2 = 0.0
    for i in range(n):
        s2 += x[i, 0] * w[0, 0]
        s += s2
    return (s + s2) * m[0, 0]


def running_sum(m, w, x):
    """The running sum is read by each point's term (found by fuzzing: a wrong value)."""
    n = x.shape[0]
    d = x.shape[1]
    cum = 0.0
    total = 0.0
    for i in range(n):
        p = 0.0
        for j in range(d):
            p += x[i, j] * w[0, j]
        cum += p
        total += cum * m[0, 0] + p * p
    return total + cum


def sum_into_array(m, w, x):
    """A sum's running value stored into a scratch array each point (found by fuzzing)."""
    n = x.shape[0]
    d = x.shape[1]
    buf = np.zeros(d)
    s = 0.0
    total = 0.0
    for i in range(n):
        for j in range(d):
            buf[j] = x[i, j] * w[0, j]
        buf[0] = s + x[i, 0] * m[0, 0]
        s += x[i, 1] * m[0, 1]
        for j in range(d):
            total += buf[j] * buf[j]
    return total + s


def branch_set(m, w, x):
    """t is set only when the point's first coordinate is positive: else the last point's t."""
    n = x.shape[0]
    t = m[0, 0]
    total = 0.0
    for i in range(n):
        if x[i, 0] > 0.0:
            t = w[0, 0] * x[i, 1] + m[0, 1]
        total += t * t * w[1, 0]
    return total


def accumulating(m, w, x):
    """buf[j] keeps growing over the points."""
    n = x.shape[0]
    d = x.shape[1]
    buf = np.zeros(d)
    total = 0.0
    for i in range(n):
        for j in range(d):
            buf[j] = buf[j] * w[0, j] + x[i, j] * m[0, j]
        for j in range(d):
            total += np.sin(buf[j])
    return total


def recurrence(m, w, x):
    n = x.shape[0]
    h = m[0, 0]
    total = 0.0
    for i in range(n):
        h = np.tanh(w[0, 0] * h + x[i, 0] * m[0, 1])
        total += h * w[1, 1]
    return total


def read_after(m, w, x):
    """The loop's last value of ``last`` is read after it."""
    n = x.shape[0]
    total = 0.0
    last = 0.0
    for i in range(n):
        last = np.exp(w[0, 0] * x[i, 0] + m[0, 0])
        total += last * m[1, 1]
    return total + last * last


def nonlinear_after(m, w, x):
    """The total is used nonlinearly after the loop: the adjoint needs the forward loop's sum
    before the reversed loop starts, so the forward loop stays (the copy would run every point
    twice)."""
    n = x.shape[0]
    d = x.shape[1]
    buf = np.zeros(d)
    total = 1.0
    for i in range(n):
        for j in range(d):
            buf[j] = w[0, j] * x[i, j] + m[0, j]
        for j in range(d):
            total += buf[j] * buf[j]
    return np.log(total)


FUSED = [mixture, overwrites, grid_rows]
KEPT = [partly_filled, conditional_fill, read_before_set, fresh_scratch, chained_sums, running_sum, sum_into_array,
        branch_set, accumulating, recurrence, read_after, nonlinear_after]


def _inputs(n=5, d=3, kk=3, seed=0):
    rng = np.random.default_rng(seed)
    return (0.5 * rng.standard_normal((kk, d)), 0.5 * rng.standard_normal((kk, d)),
            rng.standard_normal((n, d)))


def _fused(f, args, backend="python") -> bool:
    text = sg.grad(f, argnums=(0, 1), backend=backend).source_for(*args)
    assert _loops(text, "i_rev") == 1
    return _loops(text, "i") == 0


def _loops(source: str, var: str) -> int:
    """How many loops over ``var`` the code has (the comments quoting the user's lines aside)."""
    return len(re.findall(rf"^ *for {var} in range\(", source, flags=re.M))


@pytest.mark.parametrize("backend", ["python", "cpu"])
@pytest.mark.parametrize("f", FUSED + KEPT, ids=lambda f: f.__name__)
def test_gradient_matches_finite_differences(f, backend):
    check_grad(f, *_inputs(), argnums=(0, 1), backend=backend, directions=4)


def test_where_it_applies():
    args = _inputs()
    for f in FUSED:
        assert _fused(f, args), f.__name__
    for f in KEPT:
        assert not _fused(f, args), f.__name__


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_no_points_and_one_point(backend):
    g = sg.grad(mixture, argnums=(0, 1), backend=backend)
    m, w, x = _inputs()
    gm, gw = g(m, w, x[:0])
    assert np.all(gm == 0.0) and np.all(gw == 0.0)
    check_grad(mixture, m, w, x[:1], argnums=(0, 1), backend=backend)


@pytest.mark.parametrize("f", FUSED, ids=lambda f: f.__name__)
def test_matches_the_gradient_without_the_rewrite(f, monkeypatch):
    """Same arithmetic in the same order as the two-sweep adjoint: equal to the last bit."""
    from srcgrad import pipeline

    args = _inputs(n=7, d=4, kk=2, seed=4)
    fused = sg.grad(f, argnums=(0, 1), backend="python")(*args)
    monkeypatch.setattr(pipeline, "fuse_iterations", lambda gen, primal: 0)
    g = sg.grad(f, argnums=(0, 1), backend="python")
    g.transform.specs.clear()  # grad objects of one function share their builds
    source = g.transform.specialize_for_values(args).source  # built again, without the rewrite
    assert _loops(source, "i") == 1
    namespace: dict = {}
    exec(compile(source, "<plain>", "exec"), namespace)  # the module cache would give the first one
    plain = namespace[g.transform.entry_name](*args)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_value_and_grad(backend):
    """The value needs the forward loop's sum: each copy adds its point's term into it (in the
    reversed loop's order: the value changes by rounding only), and the statements computing
    the value from it move after the reversed loop."""
    args = _inputs(seed=2)
    vg = sg.value_and_grad(mixture, argnums=(0, 1), backend=backend)
    value, grads = vg(*args)
    assert _loops(vg.source_for(*args), "i") == 0
    assert value == pytest.approx(mixture(*args), rel=1e-13)
    for a, b in zip(grads, sg.grad(mixture, argnums=(0, 1), backend=backend)(*args)):
        np.testing.assert_array_equal(a, b)
    # the sum's cotangent needs the sum before the reversed loop: two sweeps, right numbers
    vg = sg.value_and_grad(nonlinear_after, argnums=(0, 1), backend=backend)
    value, grads = vg(*args)
    assert _loops(vg.source_for(*args), "i") == 1
    assert value == pytest.approx(nonlinear_after(*args), rel=1e-13)
    check_grad(nonlinear_after, *args, argnums=(0, 1), backend=backend)
    # the value reads another of the loop's values, or a sum's running value reaches more
    # than the sum: two sweeps
    for f in (read_after, chained_sums, running_sum, sum_into_array):
        vg = sg.value_and_grad(f, argnums=(0, 1), backend=backend)
        value, grads = vg(*args)
        assert _loops(vg.source_for(*args), "i") == 1, f.__name__
        assert value == pytest.approx(f(*args), rel=1e-13)
        for a, b in zip(grads, sg.grad(f, argnums=(0, 1), backend=backend)(*args)):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_float32():
    args64 = _inputs(n=6, d=4, kk=2, seed=5)
    args32 = tuple(a.astype(np.float32) for a in args64)
    g32 = sg.grad(mixture, argnums=(0, 1), backend="cpu")(*args32)
    g64 = sg.grad(mixture, argnums=(0, 1), backend="cpu")(*args64)
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


def test_hessian_through_the_rewrite():
    """Forward mode over the fused adjoint: the Hessian-vector product against differences of
    the gradient."""
    m, w, x = _inputs(n=4, d=3, kk=2, seed=6)
    g = sg.grad(mixture, backend="python")
    assert _loops(g.source_for(m, w, x), "i") == 0
    h = sg.hessian(mixture, backend="python")(m, w, x)
    v = np.random.default_rng(7).standard_normal(m.shape)
    eps = 1e-6
    fd = (g(m + eps * v, w, x) - g(m - eps * v, w, x)) / (2 * eps)
    np.testing.assert_allclose(np.tensordot(h, v, axes=v.ndim), fd, rtol=1e-5, atol=1e-7)
