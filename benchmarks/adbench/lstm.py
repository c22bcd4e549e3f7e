"""ADBench "diagonal" LSTM loss: NumPy version, loops/numba version and a hand-written adjoint.

Arguments: main_params (2l, 4b), extra_params (3, b), state (2l, b), sequence (c, b);
see README §4.4 of the data folder (note the ADBench quirks: gates mixing the
layer input and the hidden state, and log(sum exp + 2) without a max shift).
"""

import math

import numba
import numpy as np


def _sigmoid(v):
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-v))


def lstm_objective(main_params, extra_params, state, sequence):
    """LSTM loss written with NumPy vector operations per time step (state is not modified)."""
    n_layers = main_params.shape[0] // 2
    c, b = sequence.shape
    st = state.copy()
    w_in, w_out, b_out = extra_params[0], extra_params[1], extra_params[2]
    total = 0.0
    for t in range(c - 1):
        z = sequence[t] * w_in
        for j in range(n_layers):
            weight = main_params[2 * j]
            bias = main_params[2 * j + 1]
            hidden = st[2 * j]
            cell = st[2 * j + 1]
            forget = _sigmoid(z * weight[:b] + bias[:b])
            ingate = _sigmoid(hidden * weight[b:2 * b] + bias[b:2 * b])
            outgate = _sigmoid(z * weight[2 * b:3 * b] + bias[2 * b:3 * b])
            change = np.tanh(hidden * weight[3 * b:] + bias[3 * b:])
            cell = cell * forget + ingate * change
            hidden = outgate * np.tanh(cell)
            st[2 * j] = hidden
            st[2 * j + 1] = cell
            z = hidden
        ypred = z * w_out + b_out
        lse = np.log(np.sum(np.exp(ypred)) + 2.0)
        total += np.sum(sequence[t + 1] * (ypred - lse))
    return -total / ((c - 1) * b)


def lstm_objective_loops(main_params, extra_params, state, sequence):
    """LSTM loss with explicit scalar loops (numba-compatible; state is not modified)."""
    n_layers = main_params.shape[0] // 2
    c = sequence.shape[0]
    b = sequence.shape[1]
    hidden = np.zeros((n_layers, b))
    cell = np.zeros((n_layers, b))
    for j in range(n_layers):
        for q in range(b):
            hidden[j, q] = state[2 * j, q]
            cell[j, q] = state[2 * j + 1, q]
    z = np.zeros(b)
    ypred = np.zeros(b)
    total = 0.0
    for t in range(c - 1):
        for q in range(b):
            z[q] = sequence[t, q] * extra_params[0, q]
        for j in range(n_layers):
            for q in range(b):
                forget = 1.0 / (1.0 + np.exp(-(z[q] * main_params[2 * j, q] + main_params[2 * j + 1, q])))
                ingate = 1.0 / (1.0 + np.exp(-(hidden[j, q] * main_params[2 * j, b + q]
                                               + main_params[2 * j + 1, b + q])))
                outgate = 1.0 / (1.0 + np.exp(-(z[q] * main_params[2 * j, 2 * b + q]
                                                + main_params[2 * j + 1, 2 * b + q])))
                change = np.tanh(hidden[j, q] * main_params[2 * j, 3 * b + q] + main_params[2 * j + 1, 3 * b + q])
                cell[j, q] = cell[j, q] * forget + ingate * change
                hidden[j, q] = outgate * np.tanh(cell[j, q])
                z[q] = hidden[j, q]
        sumexp = 0.0
        for q in range(b):
            ypred[q] = z[q] * extra_params[1, q] + extra_params[2, q]
            sumexp += np.exp(ypred[q])
        lse = np.log(sumexp + 2.0)
        for q in range(b):
            total += sequence[t + 1, q] * (ypred[q] - lse)
    return -total / ((c - 1) * b)


lstm_objective_njit = numba.njit(cache=False)(lstm_objective_loops)


@numba.njit(cache=False)
def lstm_grad_hand(main_params, extra_params, state, sequence):
    """Hand-written adjoint: returns (loss, d_main_params, d_extra_params)."""
    n_layers = main_params.shape[0] // 2
    c, b = sequence.shape
    steps = c - 1
    # Forward tape, per step and layer: layer input z, previous hidden/cell, gates, tanh(cell).
    z_in = np.empty((steps, n_layers, b))
    h_prev = np.empty((steps, n_layers, b))
    s_prev = np.empty((steps, n_layers, b))
    gf = np.empty((steps, n_layers, b))
    gi = np.empty((steps, n_layers, b))
    go = np.empty((steps, n_layers, b))
    gc = np.empty((steps, n_layers, b))
    tcell = np.empty((steps, n_layers, b))
    z_out = np.empty((steps, b))
    softmax2 = np.empty((steps, b))  # exp(ypred) / (sum exp(ypred) + 2)

    hidden = np.empty((n_layers, b))
    cell = np.empty((n_layers, b))
    for j in range(n_layers):
        for q in range(b):
            hidden[j, q] = state[2 * j, q]
            cell[j, q] = state[2 * j + 1, q]
    z = np.empty(b)
    total = 0.0
    for t in range(steps):
        for q in range(b):
            z[q] = sequence[t, q] * extra_params[0, q]
        for j in range(n_layers):
            wrow = main_params[2 * j]
            brow = main_params[2 * j + 1]
            for q in range(b):
                zq = z[q]
                hq = hidden[j, q]
                z_in[t, j, q] = zq
                h_prev[t, j, q] = hq
                s_prev[t, j, q] = cell[j, q]
                f = 1.0 / (1.0 + math.exp(-(zq * wrow[q] + brow[q])))
                ig = 1.0 / (1.0 + math.exp(-(hq * wrow[b + q] + brow[b + q])))
                o = 1.0 / (1.0 + math.exp(-(zq * wrow[2 * b + q] + brow[2 * b + q])))
                g = math.tanh(hq * wrow[3 * b + q] + brow[3 * b + q])
                s = cell[j, q] * f + ig * g
                ts = math.tanh(s)
                gf[t, j, q] = f
                gi[t, j, q] = ig
                go[t, j, q] = o
                gc[t, j, q] = g
                tcell[t, j, q] = ts
                cell[j, q] = s
                hidden[j, q] = o * ts
                z[q] = o * ts
        sumexp = 0.0
        for q in range(b):
            z_out[t, q] = z[q]
            e = math.exp(z[q] * extra_params[1, q] + extra_params[2, q])
            softmax2[t, q] = e
            sumexp += e
        lse = math.log(sumexp + 2.0)
        inv = 1.0 / (sumexp + 2.0)
        for q in range(b):
            softmax2[t, q] *= inv
            total += sequence[t + 1, q] * (z[q] * extra_params[1, q] + extra_params[2, q] - lse)
    loss = -total / (steps * b)

    scale = -1.0 / (steps * b)
    d_main = np.zeros_like(main_params)
    d_extra = np.zeros_like(extra_params)
    dh = np.zeros((n_layers, b))  # adjoint of hidden carried to the previous step
    ds = np.zeros((n_layers, b))  # adjoint of cell carried to the previous step
    dz = np.empty(b)
    for t in range(steps - 1, -1, -1):
        ysum = 0.0
        for q in range(b):
            ysum += sequence[t + 1, q]
        for q in range(b):
            dy = scale * (sequence[t + 1, q] - ysum * softmax2[t, q])
            d_extra[1, q] += dy * z_out[t, q]
            d_extra[2, q] += dy
            dz[q] = dy * extra_params[1, q]
        for j in range(n_layers - 1, -1, -1):
            wrow = main_params[2 * j]
            dw = d_main[2 * j]
            db = d_main[2 * j + 1]
            for q in range(b):
                f = gf[t, j, q]
                ig = gi[t, j, q]
                o = go[t, j, q]
                g = gc[t, j, q]
                ts = tcell[t, j, q]
                zq = z_in[t, j, q]
                hq = h_prev[t, j, q]
                dhq = dh[j, q] + dz[q]
                dsq = ds[j, q] + dhq * o * (1.0 - ts * ts)
                da_f = dsq * s_prev[t, j, q] * f * (1.0 - f)
                da_i = dsq * g * ig * (1.0 - ig)
                da_o = dhq * ts * o * (1.0 - o)
                da_c = dsq * ig * (1.0 - g * g)
                dw[q] += da_f * zq
                dw[b + q] += da_i * hq
                dw[2 * b + q] += da_o * zq
                dw[3 * b + q] += da_c * hq
                db[q] += da_f
                db[b + q] += da_i
                db[2 * b + q] += da_o
                db[3 * b + q] += da_c
                ds[j, q] = dsq * f
                dh[j, q] = da_i * wrow[b + q] + da_c * wrow[3 * b + q]
                dz[q] = da_f * wrow[q] + da_o * wrow[2 * b + q]
        for q in range(b):
            d_extra[0, q] += dz[q] * sequence[t, q]
    return loss, d_main, d_extra
