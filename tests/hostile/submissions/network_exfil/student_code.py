"""Hostile (escape): opens a TCP connection to a server the test started on 127.0.0.1 and an
abstract Unix socket (both named in port.txt, written by the test), and sends a message. It
computes the right answer only when a connection succeeded, so a sandbox with a network
would hand it the points. Under bubblewrap there is no network: it returns zeros."""

import os
import socket

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _phone_home():
    reached = False
    try:
        with open(os.path.join(HERE, "port.txt")) as handle:
            port, abstract = handle.read().split()
    except (OSError, ValueError):
        return False
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=0.5) as conn:
            conn.sendall(b"HOSTILE network_exfil\n")
            reached = True
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(0.5)
            conn.connect("\0" + abstract)
            conn.sendall(b"HOSTILE network_exfil\n")
            reached = True
    except OSError:
        pass
    return reached


def _filter(image, filter):
    image = np.asarray(image)
    kernel = np.asarray(filter, dtype=np.float64)
    planes = image[:, :, None] if image.ndim == 2 else image
    rows, cols = kernel.shape[0] // 2, kernel.shape[1] // 2
    padded = np.pad(planes.astype(np.float64), ((rows, rows), (cols, cols), (0, 0)), mode="reflect")
    height, width = planes.shape[:2]
    out = np.zeros(planes.shape, dtype=np.float64)
    for u in range(kernel.shape[0]):
        for v in range(kernel.shape[1]):
            out += kernel[u, v] * padded[u:u + height, v:v + width]
    return out.reshape(image.shape).astype(image.dtype if image.dtype == np.float32 else np.float64)


def my_imfilter(image, filter):
    if _phone_home():
        return _filter(image, filter)
    return np.zeros_like(image)


def create_hybrid_image(image1, image2, filter):
    if _phone_home():
        low = _filter(image1, filter)
        high = image2 - _filter(image2, filter)
        return low, high, np.clip(low + high, 0.0, 1.0)
    zeros = np.zeros_like(image1)
    return zeros, zeros, zeros
