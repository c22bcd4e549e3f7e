"""Small loop programs that mix what tends to break source-transformation AD: break, continue and
early return in loops, while loops, in-place element and slice writes, reversed ranges, loop
variables reused between loops and read after them, calls of
user functions with loops, arrays rebound in loops.  Each is checked against finite differences,
and value_and_grad's value against the function.  Written while hunting the silent errors fixed in
test_loop_var_reuse.py, test_value_capture.py and test_array_copies_written.py; those three
files hold the cases that failed (the scalar carried through branches is there, not here), this
one the many that must keep passing.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def p1(w, x):  # continue + store, loop var reused after
    c = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        if x[i] < -0.3:
            continue
        c[i] = w[i] * x[i] + c[i - 1] * 0.5
    s = 0.0
    for i in range(x.shape[0]):
        s += c[i] * c[i]
    return s + c[i] * w[0]


def p2(w, x):  # while with data-dependent exit and array writes
    c = x.copy()
    k = 0
    while k < x.shape[0] and c[k] < 0.8:
        c[k] = np.tanh(c[k] * w[k]) + 0.1
        k += 1
    s = 0.0
    for j in range(k):
        s += c[j] * w[j]
    return s + np.sum(c * c)


def p3(w, x):  # early return in loop
    s = 0.0
    for i in range(x.shape[0]):
        s += np.sin(w[i] * x[i])
        if s > 1.2:
            return s * s
    return s


def p4(w, x):  # nested loops, inner break, outer var reused
    s = 0.0
    acc = np.zeros(w.shape[0])
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            if j > i:
                break
            acc[j] += x[i] * w[j]
    for i in range(w.shape[0]):
        s += acc[i] * acc[i]
    return s


def p5(w, x):  # overwrite same element many times, reversed range
    c = np.zeros(2)
    for i in range(x.shape[0] - 1, -1, -1):
        c[i % 2] = c[(i + 1) % 2] * w[i] + x[i]
    return c[0] * c[1] + c[0]


def p7(w, x):  # loop var used as float in arithmetic, step 2
    s = 0.0
    for i in range(1, x.shape[0], 2):
        s += w[i] * x[i] * i + w[i - 1] / (1.0 + i)
    return s * s


def p8(w, x):  # two breaks in sequence loops reusing q
    c = np.ones(x.shape[0])
    for q in range(x.shape[0]):
        if x[q] > 0.7:
            break
        c[q] = c[q] * w[q] + x[q]
    for q in range(x.shape[0]):
        if x[q] < -0.7:
            break
        c[q] = c[q] * c[q] + w[q]
    s = 0.0
    for q in range(x.shape[0]):
        s += c[q] * x[q]
    return s + q * w[0]


def p9(w, x):  # while counting, var reused as for var later
    i = 0
    s = 0.0
    while i < x.shape[0]:
        s += w[i] * x[i] * s + x[i]
        i += 2
    for i in range(w.shape[0]):
        s += w[i] * w[i]
    return s + i


def p10(w, x):  # slice writes in a loop
    c = np.zeros(x.shape[0])
    for k in range(3):
        c[1:] = c[:-1] * w[1:] + x[1:] * k
        c[0] = w[0] * c[-1]
    return np.sum(c * c)


def helper(v, a):
    s = 0.0
    for i in range(v.shape[0]):
        s += np.tanh(v[i] * a)
    return s


def q1(w, x):  # user function with a loop, called in a loop
    s = 0.0
    for k in range(3):
        s += helper(w * x, s + 0.1 * k)
    return s


def q2(w, x):  # array reassigned in a loop (list tapes)
    h = x.copy()
    for k in range(4):
        h = np.tanh(h * w + 0.1 * k)
        h = h[::-1] * 0.9
    return np.sum(h * h)


def q3(w, x):  # np.where and maximum in a loop
    h = x.copy()
    for _k in range(3):
        h = np.where(h > 0.0, h * w, 0.5 * h) + np.maximum(h, w)
    return np.sum(h)


def q4(w, x):  # whole-array += in a loop
    acc = np.zeros(x.shape[0])
    for k in range(3):
        acc += np.sin(w * (k + 1)) * x
    return np.sum(acc * acc)


def q5(w, x):  # outer product, axis reductions in a loop
    m = np.outer(w, x)
    s = 0.0
    for k in range(2):
        m = np.tanh(m) * 0.5 + m.T * 0.5
        s += np.sum(np.max(m, axis=1)) + np.mean(m, axis=0)[k]
    return s


def q6(w, x):  # element writes then whole-array ops
    a = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        a[i] = w[i] * x[i]
    b = np.exp(a) / np.sum(np.exp(a))
    a[0] = b[1] * 3.0
    return np.sum(a * b)


def q7(w, x):  # while with array state
    h = x.copy()
    n = 0
    while np.sum(h * h) > 0.05 and n < 20:
        h = h * 0.7 + 0.01 * w
        n += 1
    return np.sum(h * w) + n


def q8(w, x):  # row writes into 2-D
    m = np.zeros((3, x.shape[0]))
    for r in range(3):
        m[r] = x * w ** (r + 1)
    for r in range(1, 3):
        m[r] = m[r] + m[r - 1] * 0.5
    return np.sum(m * m)


def q10(w, x):  # matmul in a loop
    M = np.outer(w, w) * 0.1 + np.eye(w.shape[0]) * 0.5
    v = x.copy()
    for _k in range(3):
        v = np.tanh(M @ v)
    return np.dot(v, w)


def s2(w, x):  # reversed range with negative step and stores
    c = np.zeros(x.shape[0])
    for i in range(x.shape[0] - 1, 0, -1):
        c[i - 1] = c[i] * w[i] + x[i - 1]
    return np.sum(c * w)


def s3(w, x):  # nested while loops
    s = 0.0
    i = 0
    while i < x.shape[0]:
        j = i
        while j < x.shape[0]:
            s += w[i] * x[j] * 0.1
            j += 2
        i += 1
    return s * s


def s4(w, x):  # scalar reused name after loop + early return in nested loop
    best = -1e9
    for i in range(x.shape[0]):
        for j in range(w.shape[0]):
            v = x[i] * w[j]
            if v > best:
                best = v
    return best * best + w[0]


def s5(w, x):  # loop-carried array slice assignment from itself
    c = x.copy()
    for _k in range(3):
        c[1:] = c[1:] * 0.5 + c[:-1] * w[1:]
    return np.sum(c)


def smooth(v):
    out = np.zeros(v.shape[0])
    for i in range(v.shape[0]):
        lo = max(i - 1, 0)
        hi = min(i + 2, v.shape[0])
        acc = 0.0
        for j in range(lo, hi):
            acc += v[j]
        out[i] = acc / (hi - lo)
    return out


def u1(w, x):  # user function returning an array built by stores, called twice
    y = smooth(smooth(w * x))
    return np.sum(y * y * w)


def u2(w, x):  # same local name in caller and callee, in-place in both
    out = x.copy()
    out[0] = out[0] * w[0]
    z = smooth(out)
    out[1] = z[2] * w[1]
    return np.sum(out * z)


def u3(w, x):  # min/max builtins on floats in a loop
    s = 0.0
    for i in range(x.shape[0]):
        s += max(w[i] * x[i], 0.1 * x[i]) + min(w[i], x[i]) * 0.5
    return s * s


def u4(w, x):  # abs, sign, clip mixed
    s = 0.0
    for i in range(x.shape[0]):
        s += abs(w[i] - x[i]) * np.clip(w[i], -0.5, 0.5) + np.sqrt(1.0 + x[i] * x[i])
    return s


def u5(w, x):  # accumulate into argument-derived copy then reduce with axis
    m = np.zeros((2, x.shape[0]))
    for i in range(x.shape[0]):
        m[0, i] = w[i] * x[i]
        m[1, i] = m[0, i] * m[0, i] - w[i]
    return np.sum(np.max(m, axis=0) + np.sum(m, axis=0) * 0.5)



PROGRAMS = [p1, p2, p3, p4, p5, p7, p8, p9, p10, q1, q2, q3, q4, q5, q6, q7, q8, q10,
            s2, s3, s4, s5, u1, u2, u3, u4, u5]


@pytest.mark.parametrize("fn", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_gradient_and_value(fn):
    rng = np.random.default_rng(0)
    w, x = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 7)
    check_grad(fn, w, x, argnums=(0, 1))
    v, g = sg.value_and_grad(fn, argnums=(0, 1))(w, x)
    assert v == pytest.approx(fn(w, x), rel=1e-13, abs=1e-15)
