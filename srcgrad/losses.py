"""Common losses and activations, written in srcgrad's accepted subset.

Call them inside a function you differentiate (``sg.losses.bce_with_logits(z, y)``): the front
end inlines them like any function of yours, so their derivatives come from the same pipeline
and their stable forms carry over to the gradient.  They are plain NumPy too: calling them
outside srcgrad gives the same numbers.

Every form here stays finite for inputs of any size (±1000 included):

* ``softplus(x) = max(x, 0) + log1p(exp(-|x|))`` and ``log_sigmoid(x) = min(x, 0) -
  log1p(exp(-|x|))`` only ever exponentiate a non-positive number; at the kink ``x = 0`` the
  subgradients of ``max``/``min`` (split evenly) and ``|x|`` (zero) give the exact derivative 1/2.
* ``sigmoid(x) = exp(log_sigmoid(x))`` keeps full relative precision in both tails.
* ``logsumexp`` shifts by the maximum, held constant with `stop_gradient` (the result does not
  depend on the shift, so its derivative, ``softmax``, is exact and the max is not
  differentiated).

Reductions: `logsumexp`, `bce_with_logits` and `mse` reduce the whole array to a scalar;
`softmax` and `log_softmax` normalise along the last axis (like ``torch.softmax(x, dim=-1)``).
"""

import numpy as np

from .api import stop_gradient

__all__ = ["bce_with_logits", "log_sigmoid", "log_softmax", "logsumexp", "mse", "sigmoid",
           "softmax", "softplus"]


def softplus(x):
    """``log(1 + exp(x))``, elementwise, without overflow."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, elementwise, without overflow."""
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``, accurate for large positive and negative x."""
    return np.exp(np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x))))


def logsumexp(x):
    """``log(sum(exp(x)))`` over the whole array (``scipy.special.logsumexp(x)``)."""
    m = stop_gradient(np.max(x))
    return m + np.log(np.sum(np.exp(x - m)))


def log_softmax(x):
    """``x - logsumexp(x)`` along the last axis."""
    m = stop_gradient(np.max(x, axis=-1, keepdims=True))
    shifted = x - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax(x):
    """``exp(x) / sum(exp(x))`` along the last axis."""
    m = stop_gradient(np.max(x, axis=-1, keepdims=True))
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def bce_with_logits(z, y):
    """Mean binary cross-entropy of logits ``z`` against targets ``y`` in [0, 1]
    (``torch.nn.functional.binary_cross_entropy_with_logits``):
    mean of ``max(z, 0) - z * y + log1p(exp(-|z|))``."""
    return np.mean(np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z))))


def mse(pred, target):
    """Mean squared error."""
    d = pred - target
    return np.mean(d * d)
