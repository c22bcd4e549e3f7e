"""A zoo of loop programs, each gradient checked against central differences (check_grad).

Covers for/while loops, break/continue/early return, in-place element and slice stores into
local arrays, tapes and recomputation, data-dependent branches, zero-trip loops.
"""

import math

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad

RNG = np.random.default_rng(7)
X8 = RNG.uniform(0.2, 0.9, 8)
X5 = np.array([0.31, 0.72, 0.45, 0.93, 0.58])


def rosen_loop(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def cumsum_buffer(x):
    c = np.zeros(x.shape[0])
    c[0] = x[0]
    for i in range(1, x.shape[0]):
        c[i] = c[i - 1] + x[i] * x[i]
    s = 0.0
    for i in range(x.shape[0]):
        s += np.sin(c[i])
    return s


def cumprod_scalar(x):
    p = 1.0
    s = 0.0
    for i in range(x.shape[0]):
        p = p * x[i]
        s += p
    return s


def horner_reversed(c, t):
    y = 0.0
    for i in range(c.shape[0] - 1, -1, -1):
        y = y * t + c[i]
    return y


def newton_sqrt(a):
    y = a
    while abs(y * y - a) > 1e-13 * a:
        y = 0.5 * (y + a / y)
    return y


def euler_oscillator(p):
    k, c = p[0], p[1]
    x, v = 1.0, 0.0
    dt = 0.01
    for _ in range(200):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
    return x * x + v


def rk4_decay(p):
    y = 1.0
    h = 0.05
    for _ in range(40):
        k1 = -p[0] * y + p[1] * np.sin(y)
        k2 = -p[0] * (y + 0.5 * h * k1) + p[1] * np.sin(y + 0.5 * h * k1)
        k3 = -p[0] * (y + 0.5 * h * k2) + p[1] * np.sin(y + 0.5 * h * k2)
        k4 = -p[0] * (y + h * k3) + p[1] * np.sin(y + h * k3)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


def logsumexp_loops(x):
    m = x[0]
    for i in range(1, x.shape[0]):
        if x[i] > m:
            m = x[i]
    s = 0.0
    for i in range(x.shape[0]):
        s += np.exp(x[i] - m)
    return m + np.log(s)


def matvec_nested(a, v):
    n, m = a.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(m):
            out[i] += a[i, j] * v[j]
    s = 0.0
    for i in range(n):
        s += out[i] * out[i]
    return s


def prefix_inplace(x):
    buf = x.copy()
    for i in range(1, x.shape[0]):
        buf[i] = buf[i] + buf[i - 1] * 0.5
    return buf[x.shape[0] - 1] * buf[2]


def branchy(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            s = s * x[i] + 1.0
        elif x[i] > 0.4:
            s = s + np.exp(x[i])
        else:
            s = s - x[i] * x[i]
    return s


def break_first(x):
    s = 0.0
    i = 0
    for i in range(x.shape[0]):
        if x[i] > 0.85:
            break
        s = s * 0.9 + np.sin(x[i])
    return s * (i + 1)


def continue_skip(x):
    s = 1.0
    for i in range(x.shape[0]):
        if x[i] < 0.4:
            continue
        s = s * x[i] + 0.1
    return s


def early_return(x):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(i):
            s += x[i] * x[j]
            if s > 1.5:
                return s * 3.0
    return s


def while_counter(x):
    i = 0
    s = 0.0
    while i < x.shape[0]:
        s = s + x[i] * np.cos(s)
        i += 1
    return s


def triangular(a):
    n = a.shape[0]
    s = 0.0
    for i in range(n):
        for j in range(i + 1):
            s += a[i, j] * a[j, i]
    return s


def bounds_args(x, lo, hi):
    s = 0.0
    for i in range(lo, hi):
        s += x[i] * x[i] * x[i]
    return s


def zero_trip(x):
    s = x[0]
    for i in range(x.shape[0], 2):
        s = s * x[i]
    return s * 2.0


def overwrite_same(x):
    a = np.zeros(2)
    for i in range(x.shape[0]):
        a[0] = a[0] * x[i] + 1.0
        a[1] = np.sin(a[0]) + a[1]
    return a[0] + a[1]


def store_2d_add(x):
    m = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            m[i, j] += x[i] * x[j]
            m[i, j] += x[i]
    s = 0.0
    for i in range(3):
        s += m[i, i] * m[i, 2 - i]
    return s


def slice_store(x):
    b = np.zeros(x.shape[0])
    b[1:4] = x[0:3] * 2.0
    b[2:5] = b[2:5] + x[1:4]
    b[0:2] = np.exp(b[3:5])
    s = 0.0
    for i in range(b.shape[0]):
        s += b[i] * b[i]
    return s


def slice_store_loop(x):
    b = np.ones(x.shape[0])
    for _k in range(3):
        b[0:4] = b[1:5] * x[0:4]
    return np.sin(b[0]) + b[1] * b[2]


def read_after_write(x):
    w = np.empty(x.shape[0])
    s = 0.0
    for i in range(x.shape[0]):
        w[i] = x[i] * 2.0
        s += w[i] * x[i]
        w[i] = s
    return s + w[0] * w[x.shape[0] - 1]


def while_tolerance(p):
    # fixed point of y = cos(p*y), with a tolerance
    y = 0.5
    d = 1.0
    while d > 1e-12:
        yn = np.cos(p * y)
        d = abs(yn - y)
        y = yn
    return y


def while_break(x):
    i = 0
    s = 0.0
    while True:
        s += x[i] * x[i]
        i += 1
        if i >= x.shape[0] or s > 1.2:
            break
    return s


def nested_continue_break(a):
    n, m = a.shape
    s = 0.0
    for i in range(n):
        if a[i, 0] > 0.85:
            continue
        for j in range(m):
            if a[i, j] < 0.25:
                break
            s += a[i, j] * np.exp(-s)
    return s


def loop_in_if(x, flag):
    s = 0.0
    if flag > 0:
        for i in range(x.shape[0]):
            if x[i] > 0.8:
                return s + 10.0 * x[i]
            s += x[i] ** 3
    else:
        s = x[0]
    return s


def negative_step(x):
    s = 0.0
    for i in range(x.shape[0] - 1, 0, -2):
        s = s * x[i] + x[i - 1]
    return s


def step_argument(x, step):
    s = 0.0
    for i in range(0, x.shape[0], step):
        s = s + x[i] * s + x[i]
    return s


def iterate_array(x):
    s = 0.0
    for v in x:
        s = s + v * v * np.tanh(s)
    return s


def loop_carried_array(x):
    v = x.copy()
    for _ in range(3):
        v = np.sin(v) * x
    s = 0.0
    for i in range(v.shape[0]):
        s += v[i]
    return s


def max_via_loop(x):
    best = -1.0
    for i in range(x.shape[0]):
        best = max(best, x[i] * x[i])
    return best


def bubble_sort_weighted(x):
    y = x.copy()
    n = y.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if y[j] > y[j + 1]:
                t = y[j]
                y[j] = y[j + 1]
                y[j + 1] = t
    s = 0.0
    for i in range(n):
        s += (i + 1) * y[i]
    return s


def power_iteration(a):
    n = a.shape[0]
    v = np.ones(n)
    lam = 0.0
    for _ in range(30):
        w = np.zeros(n)
        for i in range(n):
            for j in range(n):
                w[i] += a[i, j] * v[j]
        nrm = 0.0
        for i in range(n):
            nrm += w[i] * w[i]
        nrm = math.sqrt(nrm)
        for i in range(n):
            v[i] = w[i] / nrm
        lam = nrm
    return lam


def fib_like(x):
    a, b = x[0], x[1]
    for _ in range(10):
        a, b = b, 0.5 * a + 0.4 * b
    return b


def packed_triangular(icf, x):
    # GMM's packed lower-triangular product: a counter read after it is stepped
    d = x.shape[0]
    q = np.zeros(d)
    for j in range(d):
        q[j] = np.exp(icf[j]) * x[j]
    idx = d
    for col in range(d):
        for row in range(col + 1, d):
            q[row] = q[row] + icf[idx] * x[col]
            idx += 1
    s = 0.0
    for j in range(d):
        s += q[j] * q[j]
    return s


SPD = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 1.0]])

CASES = [
    (rosen_loop, (X8,), 0),
    (cumsum_buffer, (X8,), 0),
    (cumprod_scalar, (X8,), 0),
    (horner_reversed, (X5, 0.7), (0, 1)),
    (newton_sqrt, (2.5,), 0),
    (euler_oscillator, (np.array([2.0, 0.3]),), 0),
    (rk4_decay, (np.array([0.8, 0.3]),), 0),
    (logsumexp_loops, (X8,), 0),
    (matvec_nested, (RNG.standard_normal((3, 4)), RNG.standard_normal(4)), (0, 1)),
    (prefix_inplace, (X8,), 0),
    (branchy, (X8,), 0),
    (break_first, (X5,), 0),
    (continue_skip, (X8,), 0),
    (early_return, (X8,), 0),
    (early_return, (X5 * 0.3,), 0),
    (while_counter, (X8,), 0),
    (triangular, (RNG.standard_normal((4, 4)),), 0),
    (bounds_args, (X8, 2, 6), 0),
    (zero_trip, (X5,), 0),
    (overwrite_same, (X5,), 0),
    (store_2d_add, (X5,), 0),
    (slice_store, (X8,), 0),
    (slice_store_loop, (X8,), 0),
    (read_after_write, (X5,), 0),
    (while_tolerance, (0.7,), 0),
    (while_break, (X8,), 0),
    (nested_continue_break, (RNG.uniform(0.0, 1.0, (4, 5)),), 0),
    (loop_in_if, (X8, 1), 0),
    (loop_in_if, (X8, -1), 0),
    (negative_step, (X8,), 0),
    (step_argument, (X8, 3), 0),
    (iterate_array, (X8,), 0),
    (loop_carried_array, (X5,), 0),
    (max_via_loop, (X8 - 0.5,), 0),
    (bubble_sort_weighted, (X8,), 0),
    (power_iteration, (SPD,), 0),
    (fib_like, (np.array([0.3, 0.8]),), 0),
    (packed_triangular, (RNG.standard_normal(10) * 0.3, RNG.standard_normal(4)), (0, 1)),
]


@pytest.mark.parametrize("fn,args,argnums", CASES,
                         ids=[f"{c[0].__name__}-{k}" for k, c in enumerate(CASES)])
def test_zoo_loop_gradient(fn, args, argnums):
    check_grad(fn, *args, argnums=argnums)
    # the primal through srcgrad's front end (desugared early exits) gives Python's value
    np.testing.assert_allclose(sg.jit(fn, backend="python")(*args), fn(*args), rtol=1e-12,
                               atol=1e-12)
