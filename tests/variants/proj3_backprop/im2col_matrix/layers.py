"""Correct variant: convolution as one matrix product over an explicit im2col matrix, col2im by scatter."""

import numpy as np


def affine_forward(x, w, b):
    flat = np.reshape(x, (len(x), w.shape[0]))
    return np.einsum("nd,dm->nm", flat, w) + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    flat = np.reshape(x, (len(x), w.shape[0]))
    return np.reshape(dout @ w.T, x.shape), flat.T @ dout, dout.sum(0)


def relu_forward(x):
    return x * (x > 0), x


def relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)


def _im2col(xp, hh, ww, stride, h_out, w_out):
    n, c = xp.shape[:2]
    cols = np.empty((n, h_out, w_out, c, hh, ww))
    for r in range(h_out):
        for s in range(w_out):
            cols[:, r, s] = xp[:, :, r * stride:r * stride + hh, s * stride:s * stride + ww]
    return cols.reshape(n * h_out * w_out, c * hh * ww)


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, c, hh, ww = w.shape
    h_out, w_out = (h + 2 * pad - hh) // stride + 1, (wd + 2 * pad - ww) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = _im2col(xp, hh, ww, stride, h_out, w_out)
    out = (cols @ w.reshape(f, -1).T + b).reshape(n, h_out, w_out, f).transpose(0, 3, 1, 2)
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    _, _, h_out, w_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = _im2col(xp, hh, ww, stride, h_out, w_out)
    d = dout.transpose(0, 2, 3, 1).reshape(-1, f)
    dw = (d.T @ cols).reshape(w.shape)
    dcols = (d @ w.reshape(f, -1)).reshape(n, h_out, w_out, c, hh, ww)
    dxp = np.zeros_like(xp)
    for r in range(h_out):
        for s in range(w_out):
            dxp[:, :, r * stride:r * stride + hh, s * stride:s * stride + ww] += dcols[:, r, s]
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, d.sum(0)


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    h_out, w_out = (h - ph) // s + 1, (w - pw) // s + 1
    out = np.empty((n, c, h_out, w_out))
    for r in range(h_out):
        for q in range(w_out):
            out[:, :, r, q] = x[:, :, r * s:r * s + ph, q * s:q * s + pw].reshape(n, c, -1).max(-1)
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h_out, w_out = dout.shape
    dx = np.zeros_like(x)
    ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for r in range(h_out):
        for q in range(w_out):
            window = x[:, :, r * s:r * s + ph, q * s:q * s + pw].reshape(n, c, -1)
            first = window.argmax(-1)  # first maximum in row-major order
            np.add.at(dx, (ni, ci, r * s + first // pw, q * s + first % pw), dout[:, :, r, q])
    return dx


def softmax_loss(x, y):
    n = len(y)
    m = x.max(axis=1)
    logsumexp = m + np.log(np.exp(x - m[:, None]).sum(axis=1))
    loss = np.mean(logsumexp - x[np.arange(n), y])
    probs = np.exp(x - logsumexp[:, None])
    probs[np.arange(n), y] -= 1
    return loss, probs / n
