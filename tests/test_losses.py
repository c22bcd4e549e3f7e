"""srcgrad.losses: values against NumPy/SciPy, gradients against known answers and finite
differences, and finiteness at extreme inputs (±1000)."""

import numpy as np
import pytest
from scipy import special

import srcgrad as sg
from srcgrad import losses as L

X = np.array([-3.0, -0.5, 0.0, 0.25, 2.0, 7.5])
Y = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 1.0])
EXTREME = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
M = np.array([[0.5, -1.0, 2.0], [1000.0, -1000.0, 999.0]])


def sigmoid_ref(x):
    return special.expit(x)


def elementwise_all(x):
    return L.softplus(x), L.sigmoid(x), L.log_sigmoid(x)


def test_elementwise_values_numpy_and_compiled():
    for x in (X, EXTREME):
        expected = (np.logaddexp(0.0, x), special.expit(x), special.log_expit(x))
        for got in (elementwise_all(x), sg.jit(elementwise_all)(x)):
            for g, e in zip(got, expected):
                assert np.all(np.isfinite(g))
                np.testing.assert_allclose(g, e, rtol=1e-13, atol=0)


def test_scalar_inputs():
    assert sg.jit(L.sigmoid)(-745.0) == pytest.approx(special.expit(-745.0), rel=1e-12)
    assert sg.grad(L.softplus)(0.0) == 0.5  # exact at the kink
    assert sg.grad(L.log_sigmoid)(0.0) == 0.5
    assert sg.grad(L.sigmoid)(0.0) == 0.25
    assert sg.grad(L.softplus)(1000.0) == 1.0
    assert sg.grad(L.softplus)(-1000.0) == 0.0
    assert sg.grad(L.log_sigmoid)(-1000.0) == 1.0


def elementwise_mix(x):
    return 0.5 * L.softplus(x) + 2.0 * L.sigmoid(x) - 3.0 * L.log_sigmoid(x)


def test_elementwise_gradients_vjp():
    for x in (X, EXTREME):
        s, s_neg = special.expit(x), special.expit(-x)  # 1 - s, without cancellation
        ct = np.linspace(0.5, 2.0, x.size)
        out, pull = sg.vjp(elementwise_mix, x)
        (gx,) = pull(ct)
        assert np.all(np.isfinite(gx))
        expected = ct * (0.5 * s + 2.0 * s * s_neg - 3.0 * s_neg)
        np.testing.assert_allclose(gx, expected, rtol=1e-12, atol=1e-300)


def lse(x):
    return L.logsumexp(x)


def test_logsumexp():
    for x in (X, EXTREME, M):
        assert sg.jit(lse)(x) == pytest.approx(special.logsumexp(x), rel=1e-14)
        assert L.logsumexp(x) == pytest.approx(special.logsumexp(x), rel=1e-14)
    g = sg.grad(lse)(EXTREME)
    np.testing.assert_allclose(g, special.softmax(EXTREME), rtol=1e-13, atol=1e-300)
    assert np.all(np.isfinite(g))
    sg.check_grad(lse, X)


def softmaxes(x):
    return L.softmax(x), L.log_softmax(x)


def softmax_mix(x, w, v):
    return np.sum(w * L.softmax(x)) + np.sum(v * L.log_softmax(x))


def test_softmax_and_log_softmax_last_axis():
    for x in (X, M):  # plain NumPy
        np.testing.assert_allclose(L.softmax(x), special.softmax(x, axis=-1), rtol=1e-13)
        np.testing.assert_allclose(L.log_softmax(x), special.log_softmax(x, axis=-1), rtol=1e-13)
    s, ls = sg.jit(softmaxes)(M)  # compiled, rows normalised separately
    np.testing.assert_allclose(s, special.softmax(M, axis=-1), rtol=1e-13)
    np.testing.assert_allclose(ls, special.log_softmax(M, axis=-1), rtol=1e-13)
    w = np.arange(1.0, 7.0).reshape(2, 3)
    v = np.array([[0.5, -2.0, 1.0], [3.0, 0.25, -1.0]])
    sg.check_grad(softmax_mix, np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]]), w, v)
    # known answers, per row: d sum(w * softmax) = s * (w - sum(w * s)),
    # d sum(v * log_softmax) = v - s * sum(v)
    s = special.softmax(M, axis=-1)
    g = sg.grad(softmax_mix)(M, w, v)
    expected = s * (w - np.sum(w * s, axis=-1, keepdims=True)) + v - s * v.sum(-1, keepdims=True)
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12)
    assert np.all(np.isfinite(g))


def bce(z, y):
    return L.bce_with_logits(z, y)


def bce_ref(z, y):
    # the textbook form in extended precision where it is representable
    z = z.astype(np.longdouble)
    return float(np.mean(np.logaddexp(0.0, z) - z * y))


def test_bce_with_logits():
    for z in (X, EXTREME):
        y = np.linspace(0.0, 1.0, z.size)
        v, g = sg.value_and_grad(bce)(z, y)
        assert v == pytest.approx(bce_ref(z, y), rel=1e-13)
        np.testing.assert_allclose(g, (special.expit(z) - y) / z.size, rtol=1e-12, atol=1e-300)
        assert np.isfinite(v) and np.all(np.isfinite(g))
    sg.check_grad(bce, X, Y, argnums=(0, 1))


def mse(p, t):
    return L.mse(p, t)


def test_mse():
    t = np.linspace(-1.0, 1.0, X.size)
    v, g = sg.value_and_grad(mse, argnums=(0, 1))(X, t)
    assert v == pytest.approx(np.mean((X - t) ** 2), rel=1e-15)
    np.testing.assert_allclose(g[0], 2.0 * (X - t) / X.size, rtol=1e-15)
    np.testing.assert_allclose(g[1], -2.0 * (X - t) / X.size, rtol=1e-15)


def test_float32_keeps_dtype():
    z = X.astype(np.float32)
    y = Y.astype(np.float32)
    g = sg.grad(bce)(z, y)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, (special.expit(X) - Y) / X.size, rtol=1e-5, atol=1e-7)
