"""The array cases of the PyTorch-autograd tutorials (shared/PARITY.md), with their numbers."""

import io

import numpy as np
import pytest

import srcgrad as sg


def s01(x):
    y = x + 2
    z = y * y * 2
    out = z.mean()
    return out


def test_s01_mean():
    g = sg.grad(s01)(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(g, [4.0, 16.0 / 3.0, 20.0 / 3.0], rtol=1e-15)


def s04(a, b):
    return 3 * a ** 3 - b ** 2


def test_s04_vjp_with_external_gradient():
    a = np.array([2.0, 3.0])
    b = np.array([6.0, 4.0])
    q, pullback = sg.vjp(s04, a, b)
    np.testing.assert_allclose(q, [3 * 8 - 36, 3 * 27 - 16], rtol=1e-15)
    ga, gb = pullback(np.array([1.0, 1.0]))
    np.testing.assert_allclose(ga, [36.0, 81.0], rtol=1e-15)
    np.testing.assert_allclose(gb, [-12.0, -8.0], rtol=1e-15)


def s11(a):
    b = a + 2
    c = b ** 2
    out = c.sum()
    return out


def test_s11_grad_and_printed_adjoint():
    a = np.ones((2, 2))
    g = sg.grad(s11)(a)
    assert g.shape == (2, 2) and g.dtype == np.float64
    np.testing.assert_array_equal(g, np.full((2, 2), 6.0))
    # the tutorial prints grad_fn; srcgrad prints the adjoint it generated
    buf = io.StringIO()
    src = sg.show(s11, a, file=buf)
    assert buf.getvalue().strip() == src.strip()
    assert "def s11_grad(a):" in src
    for line in ("b = a + 2", "c = b ** 2", "out = c.sum()"):  # each user line is cited
        assert f":  {line}" in src, line
    body = src[src.index("def s11_grad(a):"):]
    # forward sweep then adjoint sweep: the sum's adjoint comes after the sum, the result is
    # the adjoint of `a` cast to a's dtype
    assert "b * b" in body or "b ** 2" in body
    assert body.rstrip().splitlines()[-1].strip().startswith("return d_a")
    compiled = compile(src, "<s11_grad>", "exec")  # printable and valid Python
    assert compiled is not None


def s12(x):
    y = x ** 2
    z = y + 3
    return z


def test_s12_vjp_cotangent():
    x = np.ones(3)
    z, pullback = sg.vjp(s12, x)
    np.testing.assert_array_equal(z, [4.0, 4.0, 4.0])
    (gx,) = pullback(np.array([0.1, 1.0, 10.0]))
    # the tutorial's comment says 0.6, 6, 60; PyTorch itself prints 0.2, 2, 20
    np.testing.assert_allclose(gx, [0.2, 2.0, 20.0], rtol=1e-15)


def s23(x):
    return np.sum(0.5 * x * x + 3.0 * np.sin(x) - 2 * x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_s23_gradient_dtype_is_input_dtype(dtype):
    x = np.linspace(-1.0, 2.0, 6).astype(dtype)
    g = sg.grad(s23)(x)
    assert g.dtype == dtype
    x64 = x.astype(np.float64)
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(g, x64 + 3.0 * np.cos(x64) - 2.0, rtol=rtol, atol=rtol)


def _s4_data():
    rng = np.random.default_rng(4)
    x = np.ones(5)
    y = np.zeros(3)
    w = rng.standard_normal((5, 3))
    b = rng.standard_normal(3)
    return x, y, w, b


def s41_losses(x, y, w, b):
    z = x @ w + b
    return sg.losses.bce_with_logits(z, y)


def s41_inline(x, y, w, b):
    z = x @ w + b
    loss = np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))
    return loss


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("fn", [s41_losses, s41_inline])
def test_s41_bce_with_logits(fn):
    x, y, w, b = _s4_data()
    z = x @ w + b
    loss, (gw, gb) = sg.value_and_grad(fn, argnums=(2, 3))(x, y, w, b)
    expected_loss = np.mean(np.log1p(np.exp(z)))  # y = 0: -log(1 - sigmoid(z))
    assert loss == pytest.approx(expected_loss, rel=1e-14)
    np.testing.assert_allclose(gb, _sigmoid(z) / 3.0, rtol=1e-14)
    np.testing.assert_allclose(gw, np.outer(x, _sigmoid(z) / 3.0), rtol=1e-14)
    for row in gw:  # x = ones: every row of grad w equals grad b
        np.testing.assert_allclose(row, gb, rtol=1e-14)


def s42_detached_bias(x, y, w, b):
    z = x @ w + sg.stop_gradient(b)
    return sg.losses.bce_with_logits(z, y)


def s42_scalar(x):
    return x * sg.stop_gradient(x * x) + x


def test_s42_no_grad_forward_and_stop_gradient():
    x, y, w, b = _s4_data()
    # calling the function (plain, or compiled with sg.jit) is the no-grad forward
    plain = s41_losses(x, y, w, b)
    assert sg.jit(s41_losses)(x, y, w, b) == pytest.approx(plain, rel=1e-15)
    assert plain == pytest.approx(np.mean(np.log1p(np.exp(x @ w + b))), rel=1e-14)
    # stop_gradient cuts b's contribution: grad b is exactly zero, grad w is unchanged
    gw, gb = sg.grad(s42_detached_bias, argnums=(2, 3))(x, y, w, b)
    np.testing.assert_array_equal(gb, np.zeros(3))
    np.testing.assert_allclose(gw, np.outer(x, _sigmoid(x @ w + b) / 3.0), rtol=1e-14)
    # d/dx [x * stop(x^2) + x] = x^2 + 1 = 5 at x = 2 (13 without stop_gradient)
    assert sg.grad(s42_scalar)(2.0) == 5.0
    assert s42_scalar(2.0) == 10.0
