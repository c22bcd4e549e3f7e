"""vmap on the CPU target: elementwise gradients, per-example gradients of a loss with shared
parameters (a loop inside, with and without a tape), summed gradients, in_axes, errors."""

import math

import numba
import numpy as np
import pytest

import srcgrad as sg
from srcgrad import cache


def f(x, y):
    return math.sin(x) * y + x * x * math.exp(-y)


def df(x, y):  # the known gradient of f
    return math.cos(x) * y + 2 * x * math.exp(-y), math.sin(x) - x * x * math.exp(-y)


def logistic(w, x, y):
    z = 0.0
    for j in range(x.shape[0]):
        z += w[j] * x[j]
    return math.log(1.0 + math.exp(-y * z))


def logistic_grad_known(w, X, Y):
    z = X @ w
    s = 1.0 / (1.0 + np.exp(Y * z))  # sigmoid(-y z)
    return -(Y * s)[:, None] * X


def rnn(w, x, y):  # the loop overwrites z nonlinearly: the adjoint needs a tape
    z = 0.0
    for j in range(x.shape[0]):
        z = math.tanh(z + w[j] * x[j])
    return (z - y) ** 2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    Y = np.where(rng.random(200) < 0.5, -1.0, 1.0)
    w = rng.normal(size=5)
    return w, X, Y


def test_elementwise_gradient_matches_known():
    x = np.linspace(-2.0, 2.0, 1001)
    y = np.linspace(0.5, 1.5, 1001)
    gx, gy = sg.vmap(sg.grad(f, argnums=(0, 1)))(x, y)
    known = np.array([df(a, b) for a, b in zip(x, y)])
    assert gx.shape == (1001,) and gy.shape == (1001,)
    np.testing.assert_allclose(gx, known[:, 0], rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(gy, known[:, 1], rtol=1e-13, atol=1e-14)


def test_in_axes_none_broadcasts_scalar():
    x = np.linspace(-1.0, 1.0, 33)
    gx = sg.vmap(sg.grad(f), in_axes=(0, None))(x, 0.75)
    np.testing.assert_allclose(gx, [df(a, 0.75)[0] for a in x], rtol=1e-13, atol=1e-14)
    vals = sg.vmap(f, in_axes=(None, 0))(0.3, x)  # a plain Python function: wrapped with sg.jit
    np.testing.assert_allclose(vals, [f(0.3, b) for b in x], rtol=1e-14)


def logistic_np(w, x, y):  # array code: outside the row subset, batched by calling sg.grad
    return np.log1p(np.exp(-y * np.dot(w, x)))


def test_per_example_logistic_gradients(data):
    w, X, Y = data
    v = sg.vmap(sg.grad(logistic), in_axes=(None, 0, 0))
    G = v(w, X, Y)
    # gradients written into output rows (first_store.py makes the adjoint's += a plain store)
    assert v.form == "row" and "w_bar[j] = " in v.source
    assert G.shape == X.shape
    np.testing.assert_allclose(G, logistic_grad_known(w, X, Y), rtol=1e-12, atol=1e-15)
    v = sg.vmap(sg.grad(logistic_np), in_axes=(None, 0, 0))
    G = v(w, X, Y)
    assert v.form == "call" and "_f(a0, a1[i], a2[i])" in v.source
    np.testing.assert_allclose(G, logistic_grad_known(w, X, Y), rtol=1e-12, atol=1e-15)
    bg = sg.batch_grad(logistic_np, in_axes=(None, 0, 0))  # call form, per-chunk partial rows
    np.testing.assert_allclose(bg(w, X, Y), logistic_grad_known(w, X, Y).sum(axis=0), rtol=1e-12)
    assert "numba.prange(chunks)" in bg.source and bg.form == "call"
    np.testing.assert_allclose(G, logistic_grad_known(w, X, Y), rtol=1e-12, atol=1e-15)
    sg.check_grad(logistic, w, X[3], Y[3], argnums=0)


def own_bar_array(w, x):
    """The user's own array, named like a gradient and zeroed past k like first_store's buffers."""
    x_bar = np.empty_like(x)
    k = x.shape[0] - 2
    x_bar[k:] = 0.0
    for j in range(k):
        x_bar[j] = w[j] * x[j]
    s = 0.0
    for j in range(x.shape[0]):
        s += x_bar[j] * x_bar[j] + w[j] * x[j] * x[j]
    return s


def test_first_store_buffers_and_the_users_own_arrays(data):
    """Gradients written by stores (first_store.py) stay the row form's buffers; the user's
    own empty_like array is not taken for one."""
    w, X, Y = data
    v = sg.vmap(sg.grad(own_bar_array), in_axes=(None, 0))
    G = v(w, X)
    g = sg.grad(own_bar_array)
    want = np.array([g(w, X[i]) for i in range(X.shape[0])])
    np.testing.assert_allclose(G, want, rtol=1e-13, atol=1e-15)
    k = X.shape[1] - 2
    direct = X[0] ** 2  # d/dw: x_j^2, plus 2 w_j x_j^2 where the loop filled x_bar[j]
    direct[:k] += 2.0 * w[:k] * X[0, :k] ** 2
    np.testing.assert_allclose(want[0], direct, rtol=1e-12)


def test_value_and_grad_with_tape_loop(data):
    w, X, Y = data
    vag = sg.value_and_grad(rnn, argnums=(0, 1))
    vm = sg.vmap(vag, in_axes=(None, 0, 0))
    v, (gw, gx) = vm(w, X, Y)
    assert vm.form == "row" and "tape_z" in vm.source  # the tape of the loop, per example
    assert v.shape == (200,) and gw.shape == (200, 5) and gx.shape == (200, 5)
    for i in (0, 57, 199):
        vi, (gwi, gxi) = vag(w, X[i], Y[i])
        assert v[i] == vi
        np.testing.assert_array_equal(gw[i], gwi)
        np.testing.assert_array_equal(gx[i], gxi)
    sg.check_grad(rnn, w, X[57], Y[57], argnums=(0, 1))


def test_summed_equals_sum_of_per_example(data):
    w, X, Y = data
    vag = sg.value_and_grad(rnn, argnums=(0, 1))
    v, (gw, gx) = sg.vmap(vag, in_axes=(None, 0, 0))(w, X, Y)
    sv, (sgw, sgx) = sg.vmap(vag, in_axes=(None, 0, 0), reduce="sum")(w, X, Y)
    assert isinstance(sv, float)
    assert sv == pytest.approx(v.sum(), rel=1e-13)
    np.testing.assert_allclose(sgw, gw.sum(axis=0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sgx, gx.sum(axis=0), rtol=1e-12, atol=1e-14)
    bg = sg.batch_grad(logistic, in_axes=(None, 0, 0))(w, X, Y)
    np.testing.assert_allclose(bg, logistic_grad_known(w, X, Y).sum(axis=0), rtol=1e-12)


def test_no_lost_updates_on_large_batch():
    # many examples, every thread adds into the same summed gradient: partial buffers, no races
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200_000, 3))
    Y = np.where(rng.random(200_000) < 0.5, -1.0, 1.0)
    w = np.array([0.3, -0.2, 0.1])
    summed = sg.batch_grad(logistic, in_axes=(None, 0, 0))(w, X, Y)
    known = logistic_grad_known(w, X, Y)
    np.testing.assert_allclose(summed, known.sum(axis=0), rtol=1e-10)
    per = sg.vmap(sg.grad(logistic), in_axes=(None, 0, 0))(w, X, Y)
    np.testing.assert_allclose(per, known, rtol=1e-12, atol=1e-15)


def test_in_axes_other_axis_and_jit(data):
    w, X, Y = data
    G = sg.vmap(sg.grad(logistic), in_axes=(None, 1, 0))(w, np.ascontiguousarray(X.T), Y)
    np.testing.assert_allclose(G, logistic_grad_known(w, X, Y), rtol=1e-12, atol=1e-15)
    vals = sg.vmap(sg.jit(logistic), in_axes=(None, 0, 0))(w, X, Y)
    np.testing.assert_allclose(vals, np.log1p(np.exp(-Y * (X @ w))), rtol=1e-12)
    wb = sg.vmap(sg.grad(logistic), in_axes=(0, None, None))(np.stack([w, 2 * w]), X[0], Y[0])
    np.testing.assert_allclose(wb[1], logistic_grad_known(2 * w, X[:1], Y[:1])[0], rtol=1e-12)


def test_user_njit_function_and_python_backend():
    @numba.njit
    def sq(x, y):
        return x * x * y

    x = np.arange(10.0)
    np.testing.assert_array_equal(sg.vmap(sq, in_axes=(0, None))(x, 2.0), 2 * x * x)
    g = sg.grad(f, backend="python")
    gx = sg.vmap(g, in_axes=(0, None))(x, 1.0)
    np.testing.assert_allclose(gx, [df(a, 1.0)[0] for a in x], rtol=1e-13)
    assert sg.vmap(g, in_axes=(0, None), reduce="sum")(x, 1.0) == pytest.approx(gx.sum(), rel=1e-13)


def test_generated_module_is_a_cached_prange_file(data):
    w, X, Y = data
    v = sg.vmap(sg.grad(logistic), in_axes=(None, 0, 0), reduce="sum")
    v(w, X, Y)
    src = v.source
    assert "numba.prange(chunks)" in src and "parallel=True, cache=True" in src
    files = [p for p in cache.cache_dir().glob(f"{cache.PREFIX}vmap_*.py") if p.read_text() == src]
    assert files


def test_errors(data):
    w, X, Y = data
    vg = sg.vmap(sg.grad(logistic), in_axes=(None, 0, 0))
    with pytest.raises(ValueError, match="different batch sizes"):
        vg(w, X, Y[:10])
    with pytest.raises(ValueError, match="scalar"):
        sg.vmap(sg.grad(f))(1.0, np.ones(3))
    with pytest.raises(ValueError, match="at least one"):
        sg.vmap(sg.grad(f), in_axes=None)(1.0, 2.0)
    with pytest.raises(ValueError, match="entries"):
        sg.vmap(sg.grad(f), in_axes=(0, 0, 0))(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="target"):
        sg.vmap(f, target="tpu")
    with pytest.raises(ValueError, match="reduce"):
        sg.vmap(f, reduce="mean")
