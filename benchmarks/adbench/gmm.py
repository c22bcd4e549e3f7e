"""ADBench GMM objective (loops, vectorised NumPy) and a hand-written numba adjoint.

All functions take alphas (K,), means (K, d), icf (K, d(d+1)/2), x (n, d),
wishart_gamma (float) and wishart_m (int), and follow ADBench's convention:
F = log-likelihood - log Wishart prior (see README §4.1 of the data folder).
"""

import math

import numba
import numpy as np


def gmm_objective_loops(alphas, means, icf, x, wishart_gamma, wishart_m):
    """GMM objective with explicit loops and scalar arithmetic (the function srcgrad differentiates)."""
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]

    # Diagonal of each Q_k and the sum of its log-diagonal.
    qdiags = np.zeros((k, d))
    sum_qs = np.zeros(k)
    for ik in range(k):
        s = 0.0
        for j in range(d):
            qdiags[ik, j] = np.exp(icf[ik, j])
            s += icf[ik, j]
        sum_qs[ik] = s

    xcentered = np.zeros(d)
    qxcentered = np.zeros(d)
    main_term = np.zeros(k)
    slse = 0.0
    for i in range(n):
        for ik in range(k):
            for j in range(d):
                xcentered[j] = x[i, j] - means[ik, j]
            # Q_k (x_i - mu_k) with Q_k lower triangular, strict part stored column by column.
            for j in range(d):
                qxcentered[j] = qdiags[ik, j] * xcentered[j]
            idx = d
            for col in range(d):
                for row in range(col + 1, d):
                    qxcentered[row] = qxcentered[row] + icf[ik, idx] * xcentered[col]
                    idx += 1
            sqnorm = 0.0
            for j in range(d):
                sqnorm += qxcentered[j] * qxcentered[j]
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm
        # logsumexp over the components, shifted by the maximum.
        mx = main_term[0]
        for ik in range(1, k):
            mx = max(mx, main_term[ik])
        sumexp = 0.0
        for ik in range(k):
            sumexp += np.exp(main_term[ik] - mx)
        slse += mx + np.log(sumexp)

    mx_alpha = alphas[0]
    for ik in range(1, k):
        mx_alpha = max(mx_alpha, alphas[ik])
    sumexp_alpha = 0.0
    for ik in range(k):
        sumexp_alpha += np.exp(alphas[ik] - mx_alpha)
    lse_alphas = mx_alpha + np.log(sumexp_alpha)

    # Negative log Wishart prior (ADBench sign convention).
    icf_sz = icf.shape[1]
    prior = 0.0
    for ik in range(k):
        frobenius = 0.0
        for j in range(d):
            frobenius += qdiags[ik, j] * qdiags[ik, j]
        for j in range(d, icf_sz):
            frobenius += icf[ik, j] * icf[ik, j]
        prior += 0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_qs[ik]

    big_n = d + wishart_m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        log_gamma_d += math.lgamma(0.5 * big_n + 0.5 * (1 - j))
    c_prior = big_n * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_d

    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + slse - n * lse_alphas + prior - k * c_prior


gmm_objective_njit = numba.njit(cache=False)(gmm_objective_loops)


def _logsumexp(v, axis=-1):
    """Max-shifted logsumexp along an axis."""
    mx = np.max(v, axis=axis, keepdims=True)
    return np.squeeze(mx, axis=axis) + np.log(np.sum(np.exp(v - mx), axis=axis))


def gmm_q_matrices(icf, d):
    """Build the (K, d, d) lower-triangular Q_k from icf (log-diagonal, then columns)."""
    k = icf.shape[0]
    q = np.zeros((k, d, d))
    diag = np.arange(d)
    q[:, diag, diag] = np.exp(icf[:, :d])
    cols, rows = np.triu_indices(d, 1)  # column-major order of the strict lower part
    q[:, rows, cols] = icf[:, d:]
    return q


def gmm_objective_numpy(alphas, means, icf, x, wishart_gamma, wishart_m):
    """GMM objective, vectorised with NumPy (memory n*K*d)."""
    n, d = x.shape
    k = alphas.shape[0]
    q = gmm_q_matrices(icf, d)
    sum_qs = icf[:, :d].sum(axis=1)
    xc = x[:, None, :] - means[None, :, :]  # (n, K, d)
    qxc = np.einsum("kij,nkj->nki", q, xc)
    beta = alphas + sum_qs - 0.5 * np.sum(qxc * qxc, axis=2)
    loglik = np.sum(_logsumexp(beta, axis=1)) - n * _logsumexp(alphas)

    frob = np.sum(np.exp(2.0 * icf[:, :d])) + np.sum(icf[:, d:] ** 2)
    prior = 0.5 * wishart_gamma**2 * frob - wishart_m * np.sum(sum_qs)
    big_n = d + wishart_m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * big_n + 0.5 * (1 - j)) for j in range(1, d + 1)
    )
    c_prior = big_n * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_d
    constant = -n * d * 0.5 * math.log(2.0 * math.pi)
    return constant + loglik + prior - k * c_prior


@numba.njit(cache=False)
def _q_diagonals(icf, k, d):
    """exp of each Q_k's log-diagonal, and the log-diagonal's sum (the hand adjoints' prelude)."""
    qdiags = np.empty((k, d))
    sum_qs = np.empty(k)
    for ik in range(k):
        s = 0.0
        for j in range(d):
            qdiags[ik, j] = math.exp(icf[ik, j])
            s += icf[ik, j]
        sum_qs[ik] = s
    return qdiags, sum_qs


@numba.njit(cache=False)
def _logsumexp_1d(v):
    mx = -np.inf
    for i in range(v.shape[0]):
        mx = max(mx, v[i])
    se = 0.0
    for i in range(v.shape[0]):
        se += math.exp(v[i] - mx)
    return mx + math.log(se)


@numba.njit(cache=False)
def _parameter_free_terms(n, d, k, wishart_gamma, wishart_m):
    """The objective's terms without parameters: -n d log(2 pi) / 2 - K c_prior."""
    big_n = d + wishart_m + 1
    log_gamma_d = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(1, d + 1):
        log_gamma_d += math.lgamma(0.5 * big_n + 0.5 * (1 - j))
    c_prior = big_n * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0)) - log_gamma_d
    return -n * d * 0.5 * math.log(2.0 * math.pi) - k * c_prior


@numba.njit(cache=False)
def gmm_grad_hand(alphas, means, icf, x, wishart_gamma, wishart_m):
    """Hand-written adjoint: returns (objective, d_alphas, d_means, d_icf)."""
    n, d = x.shape
    k = alphas.shape[0]
    icf_sz = icf.shape[1]

    qdiags, sum_qs = _q_diagonals(icf, k, d)

    # Per-point work buffers (forward values kept for the backward sweep).
    xc = np.empty((k, d))
    qxc = np.empty((k, d))
    beta = np.empty(k)
    # Accumulators over points: sum_i w_ik, sum_i w_ik Qxc_ik, and
    # sum_i w_ik Qxc_ik[r] xc_ik[c] on the lower triangle (icf layout, diagonal first).
    wsum = np.zeros(k)
    vsum = np.zeros((k, d))
    msum = np.zeros((k, icf_sz))

    slse = 0.0
    for i in range(n):
        mx = -np.inf
        for ik in range(k):
            for j in range(d):
                xc[ik, j] = x[i, j] - means[ik, j]
                qxc[ik, j] = qdiags[ik, j] * xc[ik, j]
            idx = d
            for col in range(d):
                xcol = xc[ik, col]
                for row in range(col + 1, d):
                    qxc[ik, row] += icf[ik, idx] * xcol
                    idx += 1
            sq = 0.0
            for j in range(d):
                sq += qxc[ik, j] * qxc[ik, j]
            b = alphas[ik] + sum_qs[ik] - 0.5 * sq
            beta[ik] = b
            mx = max(mx, b)
        se = 0.0
        for ik in range(k):
            beta[ik] = math.exp(beta[ik] - mx)
            se += beta[ik]
        slse += mx + math.log(se)
        inv_se = 1.0 / se
        # Backward: dF/dbeta_ik = softmax weight w.
        for ik in range(k):
            w = beta[ik] * inv_se
            wsum[ik] += w
            for j in range(d):
                wq = w * qxc[ik, j]
                vsum[ik, j] += wq
                msum[ik, j] += wq * xc[ik, j]
            idx = d
            for col in range(d):
                wx = w * xc[ik, col]
                for row in range(col + 1, d):
                    msum[ik, idx] += qxc[ik, row] * wx
                    idx += 1

    lse_alphas = _logsumexp_1d(alphas)

    g2 = wishart_gamma * wishart_gamma
    d_alphas = np.empty(k)
    d_means = np.empty((k, d))
    d_icf = np.empty((k, icf_sz))
    prior = 0.0
    for ik in range(k):
        d_alphas[ik] = wsum[ik] - n * math.exp(alphas[ik] - lse_alphas)
        frob = 0.0
        for j in range(d):
            qd = qdiags[ik, j]
            frob += qd * qd
            d_icf[ik, j] = wsum[ik] - qd * msum[ik, j] + g2 * qd * qd - wishart_m
            d_means[ik, j] = qd * vsum[ik, j]
        idx = d
        for col in range(d):
            acc = 0.0
            for row in range(col + 1, d):
                lval = icf[ik, idx]
                frob += lval * lval
                d_icf[ik, idx] = g2 * lval - msum[ik, idx]
                acc += lval * vsum[ik, row]
                idx += 1
            d_means[ik, col] += acc
        prior += 0.5 * g2 * frob - wishart_m * sum_qs[ik]

    obj = slse - n * lse_alphas + prior + _parameter_free_terms(n, d, k, wishart_gamma, wishart_m)
    return obj, d_alphas, d_means, d_icf


@numba.njit(cache=False)
def gmm_grad_hand_pointwise(alphas, means, icf, x, wishart_gamma, wishart_m):
    """Hand-written adjoint without algebraic restructuring: returns (objective, d_alphas, d_means, d_icf).

    The forward and reverse sweeps of each point, written statement by statement (the
    triangular product is reversed per point, as an AD tool does). `gmm_grad_hand` instead
    sums the softmax-weighted products over the points first and applies Q_k once per
    component: fewer operations than any per-point adjoint. The two bracket srcgrad.
    """
    n, d = x.shape
    k = alphas.shape[0]
    icf_sz = icf.shape[1]
    qdiags, sum_qs = _q_diagonals(icf, k, d)

    d_alphas = np.zeros(k)
    d_means = np.zeros((k, d))
    d_icf = np.zeros((k, icf_sz))
    d_qdiags = np.zeros((k, d))
    d_sum_qs = np.zeros(k)
    xc = np.empty((k, d))
    qxc = np.empty((k, d))
    beta = np.empty(k)
    xc_bar = np.empty(d)
    qxc_bar = np.empty(d)
    slse = 0.0
    for i in range(n):
        # Forward sweep of point i.
        mx = -np.inf
        for ik in range(k):
            for j in range(d):
                xc[ik, j] = x[i, j] - means[ik, j]
                qxc[ik, j] = qdiags[ik, j] * xc[ik, j]
            idx = d
            for col in range(d):
                for row in range(col + 1, d):
                    qxc[ik, row] += icf[ik, idx] * xc[ik, col]
                    idx += 1
            sq = 0.0
            for j in range(d):
                sq += qxc[ik, j] * qxc[ik, j]
            beta[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sq
            mx = max(mx, beta[ik])
        se = 0.0
        for ik in range(k):
            se += math.exp(beta[ik] - mx)
        slse += mx + math.log(se)
        # Reverse sweep of point i: d slse / d beta_ik = softmax weight w_ik.
        for ik in range(k):
            w = math.exp(beta[ik] - mx) / se
            d_alphas[ik] += w
            d_sum_qs[ik] += w
            # beta = ... - 0.5 * |qxc|^2: qxc_bar = -w * qxc; reverse the triangular product.
            # (The triangle's iterations only accumulate, so they run in forward order.)
            for j in range(d):
                qxc_bar[j] = -w * qxc[ik, j]
            idx = d
            for col in range(d):
                acc = 0.0
                xcol = xc[ik, col]
                for row in range(col + 1, d):
                    d_icf[ik, idx] += qxc_bar[row] * xcol
                    acc += qxc_bar[row] * icf[ik, idx]
                    idx += 1
                xc_bar[col] = acc
            for j in range(d):
                qb = qxc_bar[j]
                d_qdiags[ik, j] += qb * xc[ik, j]
                d_means[ik, j] -= xc_bar[j] + qb * qdiags[ik, j]

    lse_alphas = _logsumexp_1d(alphas)

    g2 = wishart_gamma * wishart_gamma
    prior = 0.0
    for ik in range(k):
        d_alphas[ik] -= n * math.exp(alphas[ik] - lse_alphas)
        frob = 0.0
        for j in range(d):
            qd = qdiags[ik, j]
            frob += qd * qd
            # qdiag = exp(icf): chain through the likelihood and the prior's g2 * qd^2 / 2.
            d_icf[ik, j] = (d_qdiags[ik, j] + g2 * qd) * qd + d_sum_qs[ik] - wishart_m
        for j in range(d, icf_sz):
            frob += icf[ik, j] * icf[ik, j]
            d_icf[ik, j] += g2 * icf[ik, j]
        prior += 0.5 * g2 * frob - wishart_m * sum_qs[ik]

    obj = slse - n * lse_alphas + prior + _parameter_free_terms(n, d, k, wishart_gamma, wishart_m)
    return obj, d_alphas, d_means, d_icf


def gmm_flat_gradient(d_alphas, d_means, d_icf):
    """Concatenate a GMM gradient in ADBench order: alphas, means, icf (component-major)."""
    return np.concatenate([d_alphas.ravel(), d_means.ravel(), d_icf.ravel()])
