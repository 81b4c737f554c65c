"""
NAME
    test_policyd_robust - hostile input on the policy socket

DESCRIPTION
    Random bytes, a 1 MB line, too many attributes and a slow trickle on
    some connections must neither crash sluice-policyd nor delay the
    requests of another connection; each bad connection gets the default
    action and is closed. Pipelined requests are answered in order.
"""
import os
import socket
import threading
import time

import pytest

from test_policyd_util import start_policyd, policy_on, read_answer, request_bytes
import keys


def connect(sock):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    return s


def drain(s):
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data


@pytest.mark.serial     # asserts no stall over 0.2 s: idle machine
def test_garbage_and_huge_line(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis, deadline_ms=None)   # the 100 ms deadline bounds worst
    good = connect(sock)
    assert policy_on(good, {}) == "DUNNO"
    stop = threading.Event()
    worst = [0.0]

    def measure():
        while not stop.is_set():
            t0 = time.monotonic()
            assert policy_on(good, {}) == "DUNNO"
            worst[0] = max(worst[0], time.monotonic() - t0)
            time.sleep(0.005)

    t = threading.Thread(target=measure)
    t.start()
    try:
        for i in range(20):                       # random bytes
            s = connect(sock)
            try:
                s.sendall(os.urandom(4096) + b"\n\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            s.close()
        s = connect(sock)                         # one 1 MB line
        try:
            s.sendall(b"recipient=" + b"x" * (1 << 20) + b"\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert drain(s) in (b"action=DUNNO\n\n", b"")
        s.close()
        s = connect(sock)                         # too many attributes
        s.sendall(b"".join(b"a%d=1\n" % i for i in range(100)) + b"\n")
        assert drain(s) == b"action=DUNNO\n\n"
        s.close()
        s = connect(sock)                         # a valid request, then garbage
        s.sendall(request_bytes({}) + b"no equals sign\n\n")
        assert drain(s) == b"action=DUNNO\n\naction=DUNNO\n\n"
        s.close()
    finally:
        stop.set()
        t.join()
    assert proc.alive()
    assert worst[0] < 0.2, worst[0]   # a Redis round trip or two, never a stall
    proc.wait_output("line too long")
    proc.wait_output("too many attributes")
    proc.wait_output("line without '='")
    assert policy_on(connect(sock), {}) == "DUNNO"


def test_pipelined_and_trickled(env):
    redis = env.redis()
    redis.cli("HSET", keys.supp("global", "gone@dest.test"), "reason", "hard-bounce")
    # a generous timeout: this is about order, not speed, on a shared machine
    proc, sock, _ = start_policyd(env, redis, "timeout = 5000\n")
    s = connect(sock)
    rcpts = ["ok%d@dest.test" % i if i % 3 else "gone@dest.test" for i in range(300)]  # > pipeline_max (64)
    s.sendall(b"".join(request_bytes({"recipient": r}) for r in rcpts))
    buf = b""
    while buf.count(b"\n\n") < len(rcpts):
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    answers = [a[len("action="):] for a in buf.decode().split("\n\n")[:-1]]
    assert len(answers) == len(rcpts)
    for r, a in zip(rcpts, answers):
        assert a.startswith("550") if r.startswith("gone") else a == "DUNNO", (r, a)
    # one byte at a time still makes one request
    t = connect(sock)
    for b in request_bytes({"recipient": "gone@dest.test"}):
        t.sendall(bytes([b]))
    assert read_answer(t).startswith("550 5.1.1")


def test_connection_cap(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis, "max_connections = 2\n")

    def served_connection():
        # the readiness probe's connection may still hold a slot for a moment
        deadline = time.monotonic() + 30
        while True:
            try:
                s = connect(sock)
                if policy_on(s, {}) == "DUNNO":
                    return s
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    a = served_connection()
    b = served_connection()
    c = connect(sock)
    assert drain(c) == b""                       # refused: closed at once
    proc.wait_output("too many policy connections")
    assert policy_on(a, {}) == "DUNNO"
    a.close()
    import harness

    def served():
        try:
            return policy_on(connect(sock), {}) == "DUNNO"
        except OSError:
            return False
    harness.wait_for(served, 5, "a free slot")
