"""Forward mode (jvp), second derivatives (grad of grad, hessian, hvp) and Jacobians."""

import math

import numba
import numpy as np
import pytest

import srcgrad as sg


def fd_grad(f, x, h=1e-6):
    """Central differences of a scalar function of a scalar or an array."""
    if np.ndim(x) == 0:
        return (f(x + h) - f(x - h)) / (2 * h)
    g = np.zeros(np.shape(x))
    for k in range(np.size(x)):
        e = np.zeros(np.shape(x))
        e.flat[k] = h
        g.flat[k] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def fd_jac(f, x, h=1e-6):
    cols = []
    for k in range(np.size(x)):
        e = np.zeros(np.shape(x))
        e.flat[k] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(f(x)) + np.shape(x))


# -- functions under test ------------------------------------------------------------------


def branchy(x, y):
    if x > y:
        z = np.sin(x) * y + x / y
    else:
        z = np.exp(x - y) * x
    return z * z + np.sqrt(y)


def loop_store(x, w):
    n = x.shape[0]
    a = np.zeros(n)
    acc = 0.0
    for i in range(n):
        a[i] = np.tanh(x[i] * w) + acc
        acc = acc + a[i] * 0.5
        if a[i] > 0.2:
            a[i] += x[i] * x[i]
    return np.sum(a * a) + acc


def while_break(x):
    y = np.zeros(3)
    k = 0
    s = x[0]
    while k < 50:
        s = s * 1.1 + np.cos(x[1] * s)
        if s > 5.0:
            break
        k += 1
    for j in range(3):
        y[j] = s * x[j]
        if j == 1:
            continue
        y[j] = y[j] + x[2] ** 3
    return y


def arrays(a, b):
    c = np.dot(a, b)
    return np.sum(c * c) + np.mean(np.exp(-a))


def array_prims(a, b):
    c = np.dot(a, b)
    m = np.sum(c * c, axis=0) + np.max(c, axis=0) + np.min(c, axis=0, keepdims=True)[0]
    p = np.prod(np.tanh(a), axis=1)
    q = np.linalg.norm(a, axis=1) + np.mean(a, axis=1)
    r = np.concatenate((b, a.T), axis=1)
    s = np.where(r > 0.1, r, 2.0 * r * r)
    return np.max(m) + np.sum(p * q) + np.sum(s.reshape(-1) ** 2) + np.min(a) * np.prod(b)


def s22(x, y):
    return (x * x + 2.0 * x) * np.log(y)


def rosen(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s = s + 100.0 * (x[i + 1] - x[i] * x[i]) ** 2 + (1.0 - x[i]) ** 2
    return s


def rosen_hessian(x):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i + 1, i + 1] += 200
        H[i, i + 1] += -400 * x[i]
        H[i + 1, i] += -400 * x[i]
    return H


def poly_loop(x, n):
    s = 1.0
    for _i in range(n):
        s = s * x + np.sin(s)
    return s


def newton_sqrt(a):
    x = a
    it = 0
    while it < 30 and abs(x * x - a) > 1e-14:
        x = 0.5 * (x + a / x)
        it += 1
    return x * x * x


def vec_fn(x, c):
    y = np.zeros(4)
    for i in range(4):
        y[i] = np.sin(x[i % 3]) * x[(i + 1) % 3] * c + x[0] ** 2
    return y


# -- jvp ---------------------------------------------------------------------------------------


def test_jvp_scalar_branches_matches_grad_dot_v():
    for x, y in [(1.3, 0.4), (0.2, 0.9)]:
        out, t = sg.jvp(branchy, (x, y), (0.7, -1.1))
        gx, gy = sg.grad(branchy, argnums=(0, 1))(x, y)
        assert math.isclose(out, branchy(x, y), rel_tol=1e-12)
        assert math.isclose(t, 0.7 * gx - 1.1 * gy, rel_tol=1e-10)


def test_jvp_loop_branch_store_matches_grad_dot_v():
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    out, t = sg.jvp(loop_store, (x, 0.8), (v, 0.3))
    gx, gw = sg.grad(loop_store, argnums=(0, 1))(x, 0.8)
    assert math.isclose(out, loop_store(x, 0.8), rel_tol=1e-12)
    assert math.isclose(t, gx @ v + 0.3 * gw, rel_tol=1e-10)


def test_jvp_vector_output_while_break_continue():
    x = np.array([0.9, 0.4, -0.6])
    v = np.array([0.3, -0.2, 1.0])
    out, t = sg.jvp(while_break, (x,), (v,))
    np.testing.assert_allclose(out, while_break(x), rtol=1e-12)
    np.testing.assert_allclose(t, fd_jac(while_break, x) @ v, rtol=1e-6, atol=1e-8)


def test_jvp_array_primitives_matches_grad_dot_v():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    va, vb = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    _, t = sg.jvp(arrays, (a, b), (va, vb))
    ga, gb = sg.grad(arrays, argnums=(0, 1), backend="python")(a, b)
    assert math.isclose(t, np.sum(ga * va) + np.sum(gb * vb), rel_tol=1e-10)


def test_jvp_reductions_shapes_python_backend():
    """Axis reductions, max/min/prod/norm, concatenate, where, reshape (no numba compile)."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    va, vb = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    _, t = sg.jvp(array_prims, (a, b), (va, vb), backend="python")
    h = 1e-6
    fd = (array_prims(a + h * va, b + h * vb) - array_prims(a - h * va, b - h * vb)) / (2 * h)
    assert math.isclose(t, fd, rel_tol=1e-6)


# -- second derivatives --------------------------------------------------------------------


def test_seed_s22_second_derivatives_via_hessian():
    (hxx, hxy), (hyx, hyy) = sg.hessian(s22, argnums=(0, 1))(1.0, 2.0)
    assert math.isclose(hxx, 2 * math.log(2), rel_tol=1e-12)
    assert math.isclose(hyy, -0.75, rel_tol=1e-12)
    assert math.isclose(hxy, 2.0, rel_tol=1e-12) and math.isclose(hyx, 2.0, rel_tol=1e-12)


def test_seed_s22_second_derivatives_via_grad_of_grad():
    dx, dy = sg.grad(s22, 0), sg.grad(s22, 1)
    assert math.isclose(sg.grad(dx, 0)(1.0, 2.0), 2 * math.log(2), rel_tol=1e-12)
    assert math.isclose(sg.grad(dy, 1)(1.0, 2.0), -0.75, rel_tol=1e-12)
    assert math.isclose(sg.grad(dx, 1)(1.0, 2.0), 2.0, rel_tol=1e-12)
    assert math.isclose(sg.grad(dy, 0)(1.0, 2.0), 2.0, rel_tol=1e-12)


def test_hessian_rosenbrock_loop_analytic():
    x = np.array([0.3, -1.2, 0.8, 1.5, 0.1, -0.4])
    np.testing.assert_allclose(sg.hessian(rosen)(x), rosen_hessian(x), rtol=1e-12, atol=1e-9)


def test_hvp_matches_analytic_hessian_and_runs_inside_njit():
    rng = np.random.default_rng(2)
    x, v = rng.standard_normal(20), rng.standard_normal(20)
    hvp = sg.hvp(rosen)
    np.testing.assert_allclose(hvp(x, v), rosen_hessian(x) @ v, rtol=1e-12, atol=1e-9)

    @numba.njit
    def quad_form(x, v):
        return np.dot(v, hvp(x, v))

    assert math.isclose(quad_form(x, v), v @ rosen_hessian(x) @ v, rel_tol=1e-10)


def cubic_sum(x):
    return np.sum(x ** 3) + np.mean(np.sin(x) * x)


def test_hessian_through_sum_and_mean_of_arrays():
    """The adjoints of sum/mean broadcast the cotangent (rt.fill_like / rt.mean_fill): forward
    mode over them needs their tangent (they are linear in the cotangent)."""
    x = np.array([0.4, -1.1, 2.0])
    n = x.shape[0]
    expected = np.diag(6.0 * x + (2.0 * np.cos(x) - x * np.sin(x)) / n)
    np.testing.assert_allclose(sg.hessian(cubic_sum)(x), expected, rtol=1e-12, atol=1e-12)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(sg.hvp(cubic_sum)(x, v), expected @ v, rtol=1e-12, atol=1e-12)


def test_grad_of_grad_through_for_loop():
    d2 = sg.grad(sg.grad(poly_loop))
    d1 = sg.grad(poly_loop)
    for x in (0.3, -0.7):
        assert math.isclose(d2(x, 6), fd_grad(lambda z: d1(z, 6), x), rel_tol=1e-6)


def test_grad_of_grad_through_while_loop():
    # newton_sqrt(a) = a ** 1.5 once converged: second derivative 0.75 / sqrt(a)
    d2 = sg.grad(sg.grad(newton_sqrt))
    for a in (2.0, 7.5):
        assert math.isclose(d2(a), 0.75 / math.sqrt(a), rel_tol=1e-8)


def test_third_order():
    d3 = sg.grad(sg.grad(sg.grad(s22)))
    assert d3(1.0, 2.0) == pytest.approx(0.0, abs=1e-12)
    d3y = sg.grad(sg.grad(sg.grad(s22, 1), 1), 1)
    assert math.isclose(d3y(1.0, 2.0), 3.0 * 2.0 / 8.0, rel_tol=1e-12)  # (x²+2x)·2/y³


def test_grad_of_grad_with_array_argument_is_rejected():
    with pytest.raises(sg.DifferentiationError, match="scalar"):
        sg.grad(sg.grad(rosen))(np.ones(3))


# -- jacobians -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fwd", "rev", "auto"])
def test_jacobian_matches_finite_differences(mode):
    x = np.array([0.4, -1.1, 0.7])
    J = sg.jacobian(vec_fn, mode=mode)(x, 1.5)
    assert J.shape == (4, 3)
    np.testing.assert_allclose(J, fd_jac(lambda z: vec_fn(z, 1.5), x), rtol=1e-6, atol=1e-8)


def test_jacobian_tuple_argnums_and_scalar_argument():
    x = np.array([0.4, -1.1, 0.7])
    jx, jc = sg.jacobian(vec_fn, argnums=(0, 1), mode="fwd")(x, 1.5)
    rx, rc = sg.jacobian(vec_fn, argnums=(0, 1), mode="rev")(x, 1.5)
    np.testing.assert_allclose(jx, rx, rtol=1e-12)
    np.testing.assert_allclose(jc, rc, rtol=1e-12)
    np.testing.assert_allclose(jc, (vec_fn(x, 1.5 + 1e-6) - vec_fn(x, 1.5 - 1e-6)) / 2e-6,
                               rtol=1e-6)


def while_pairs(x):
    """A while loop's counter indexes two elements: its list tape holds integers and floats."""
    i = 0
    tot = 0.0
    while i < 3:
        tot += x[i] * x[i + 1]
        i += 1
    return tot


def while_down(x):
    i = 4
    tot = 0.0
    while i > 0:
        i -= 1
        tot += x[i] * x[i - 1]
    return tot


def break_aliasing(x, k):
    tot = 0.0
    for _i in range(3):
        tot += x[k + 1] * x[2]
        if x[2] > 1.45:
            break
    return tot


def test_hessian_through_list_tapes_with_integers():
    """Every pop of a tape with tangents pops a tangent, also for integer values (found by
    fuzzing: the tangent stack fell out of step and these hessians came out wrong)."""
    x = np.linspace(0.3, 1.7, 6)
    h = np.zeros((6, 6))
    for a in range(3):
        h[a, a + 1] = h[a + 1, a] = 1.0
    np.testing.assert_allclose(sg.hessian(while_pairs)(x), h)
    e0 = np.eye(6)[0]
    np.testing.assert_allclose(sg.hvp(while_pairs)(x, e0), h @ e0)
    h2 = np.zeros((6, 6))
    for a in range(4):
        b = (a - 1) % 6
        h2[a, b] += 1.0
        h2[b, a] += 1.0
    np.testing.assert_allclose(sg.hessian(while_down)(x), h2)
    x4 = np.linspace(0.3, 1.7, 4)
    h3 = np.zeros((4, 4))
    h3[2, 2] = 6.0  # x[2] * x[2] three times
    np.testing.assert_allclose(sg.hessian(break_aliasing)(x4, 1), h3)


def gates_until_break(w, x, b):
    n = x.shape[0]
    h = x * 0.7
    g = np.sin(x)
    for j in range(3):
        h = np.tanh(w * h)
        if j > 1:
            break
        k = n
        g = np.tanh(g * b[:k]) * h
    return np.sum(g * g)


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_hessian_through_a_tape_of_arrays_and_break_flags(backend):
    """An array and a break flag pushed onto one merged tape: the tangent tape gets the array's
    tangent only (a 0.0 for the flag beside arrays did not compile; found by fuzzing)."""
    rng = np.random.default_rng(0)
    w, x, b = rng.standard_normal(4) * 0.6, rng.standard_normal(4) * 0.6, rng.standard_normal(8) * 0.5
    hess = sg.hessian(gates_until_break, argnums=(0, 1), backend=backend)(w, x, b)
    grad = sg.grad(gates_until_break, argnums=(0, 1), backend="python")
    eps = 1e-6
    for i in range(2):
        for k in range(4):
            up, dn = [w.copy(), x.copy()], [w.copy(), x.copy()]
            up[i][k] += eps
            dn[i][k] -= eps
            gu, gd = grad(*up, b), grad(*dn, b)
            for j in range(2):
                fd = (gu[j] - gd[j]) / (2 * eps)
                np.testing.assert_allclose(hess[j][i][:, k], fd, rtol=1e-5, atol=1e-7)
