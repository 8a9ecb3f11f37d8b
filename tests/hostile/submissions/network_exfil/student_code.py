"""Hostile (escape): reaches the servers the test started — TCP and UDP on 127.0.0.1, a Unix
socket by path and an abstract one (all named in port.txt, written by the test) — and sends a
message. It computes the right answer only when one of them was reached, so a sandbox with a
network (an "answer oracle" on loopback) would hand it the points."""

import os
import socket

from attack import graded_if

HERE = os.path.dirname(os.path.abspath(__file__))
MESSAGE = b"HOSTILE network_exfil\n"


def _attempts(port, udp_port, unix_path, abstract):
    yield socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", port)
    yield socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", udp_port)
    yield socket.AF_UNIX, socket.SOCK_STREAM, unix_path
    yield socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract


def _phone_home():
    try:
        with open(os.path.join(HERE, "port.txt")) as handle:
            port, udp_port, unix_path, abstract = handle.read().split()
    except (OSError, ValueError):
        return False
    reached = False
    for family, kind, address in _attempts(int(port), int(udp_port), unix_path, abstract):
        try:
            with socket.socket(family, kind) as conn:
                conn.settimeout(0.5)
                conn.connect(address)
                conn.sendall(MESSAGE)
                if kind == socket.SOCK_DGRAM:
                    conn.recv(64)  # a datagram proves nothing until the server answers it
                reached = True
        except OSError:
            continue
    return reached


my_imfilter, create_hybrid_image = graded_if(_phone_home)
