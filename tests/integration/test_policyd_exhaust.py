"""
NAME
    test_policyd_exhaust - sluice-policyd's listeners under a crowd of hostile clients

DESCRIPTION
    Findings of issue 10, each a test that failed before the fix:
    - 1,100 slow HTTP clients (one byte every 2 s, reconnecting when
      dropped) under the common fd limit of 1024 must leave the policy
      socket answering every request within 1 s, with stderr quiet; the
      crowd past http_max_connections gets 503;
    - a connection that trickles bytes is closed at the total request
      deadline (http_timeout), not kept alive by its trickle;
    - /metrics apart from the public /u/ path (metrics_listen);
    - a policy client that pipelines requests and never reads its answers
      leaves sluice-policyd's RSS bounded: reading from it stops;
    - HTTP size caps; accept errors at the fd limit back off and log once;
      a hard fd limit below the caps' needs is warned about at start.
    Figures are printed (pytest -s) for doc/security.md.
"""
import os
import subprocess
import resource
import selectors
import socket
import statistics
import threading
import time

import pytest

import harness
from test_policyd_util import start_policyd_product_timeout as start_policyd, policy_query, http_get, request_bytes

# 1,100 clients, fd limits and latency bounds: only on an otherwise idle machine.
pytestmark = pytest.mark.serial


def raise_own_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(n, min(hard, n)), max(hard, n)))


def latencies(sock, count):
    """Seconds per answer, each request on a new connection (accept included)."""
    out = []
    for i in range(count):
        t0 = time.monotonic()
        assert policy_query(sock, {"recipient": "r%d@dest.test" % i}, timeout=5.0) == "DUNNO"
        out.append(time.monotonic() - t0)
        time.sleep(0.01)
    return out


class SlowCrowd:
    """n HTTP clients sending one byte every `every` seconds; reconnect when dropped."""

    def __init__(self, port, n, every=2.0):
        self.port, self.n, self.every = port, n, every
        self.stop = threading.Event()
        self.got_503 = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self, sel):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", self.port))
        except OSError:
            s.close()
            return
        sel.register(s, selectors.EVENT_READ, {"sent": 0, "next": time.monotonic() + self.every})

    def run(self):
        sel = selectors.DefaultSelector()
        for _ in range(self.n):
            self.open_one(sel)
        request = b"POST /u/" + b"A" * 40 + b" HTTP/1.1\r\nHost: x\r\n"
        while not self.stop.is_set():
            now = time.monotonic()
            for key, _ in sel.select(timeout=0.2):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if b" 503 " in data:
                    self.got_503 += 1
                sel.unregister(s)
                s.close()
                self.dropped += 1
                self.open_one(sel)
            for key in list(sel.get_map().values()):
                st = key.data
                if now >= st["next"]:
                    st["next"] = now + self.every
                    try:
                        key.fileobj.send(request[st["sent"] % len(request):][:1])
                        st["sent"] += 1
                    except OSError:
                        pass
        for key in list(sel.get_map().values()):
            key.fileobj.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.thread.join()


def test_slow_http_crowd_leaves_policy_answering(env):
    raise_own_fd_limit(4096)
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, "timeout = 1000\n", http=True,
                                     wrap=("prlimit", "--nofile=1024:1024", "--"))
    quiet = latencies(sock, 50)
    lines_before = len(proc.output().splitlines())
    with SlowCrowd(port, 1100) as crowd:
        time.sleep(3)                               # the crowd connects and trickles
        busy = latencies(sock, 100)
        got_503 = crowd.got_503
    # request lines are logged at info; everything else is the rate-limited warnings
    noise = [l for l in proc.output().splitlines()[lines_before:] if " request: " not in l]
    print("\npolicy latency, median/max ms: quiet %.2f/%.2f, 1,100 slow HTTP clients %.2f/%.2f; "
          "%d stderr lines besides the request log; %d connections answered 503"
          % (1000 * statistics.median(quiet), 1000 * max(quiet), 1000 * statistics.median(busy),
             1000 * max(busy), len(noise), got_503))
    assert proc.alive()
    assert max(busy) < 1.0, busy                      # every answer within 1 s
    assert len(noise) <= 5, noise[:20]
    assert got_503 > 0                               # past http_max_connections: 503
    status, _ = http_get(port, "/healthz")            # the listener recovers after the crowd
    assert status in (200, 503)


def test_http_total_deadline(env):
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, "http_timeout = 2\n", http=True)
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.3)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200
    t0 = time.monotonic()
    closed_at = None
    for i in range(len(request)):                     # one byte every 0.3 s: never idle
        try:
            s.send(request[i:i + 1])
            if s.recv(4096) == b"":
                closed_at = time.monotonic() - t0
                break
        except socket.timeout:
            continue
        except OSError:
            closed_at = time.monotonic() - t0
            break
        if time.monotonic() - t0 > 8:
            break
    s.close()
    assert closed_at is not None and closed_at < 4.0, closed_at
    assert http_get(port, "/healthz")[0] in (200, 503)


def test_metrics_listen_apart(env):
    redis = env.redis()
    mport = harness.free_port()
    proc, sock, port = start_policyd(env, redis, 'metrics_listen = "127.0.0.1:%d"\n' % mport,
                                     http=True)
    harness.wait_for(lambda: harness.can_connect(("127.0.0.1", mport)), 5, "metrics listener")
    status, body = http_get(mport, "/metrics")
    assert status == 200 and "sluice_policyd_requests_total" in body
    assert "sluice_policyd_http_connections" in body
    assert http_get(port, "/metrics")[0] == 404       # not on the public listener
    assert http_get(mport, "/u/AAAA")[0] == 404       # and no unsubscribe on the internal one
    assert http_get(mport, "/healthz")[0] in (200, 503)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_non_reading_pipeliner_bounded(env):
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis, top_extra='log_level = "warning"\n')
    assert policy_query(sock, {}) == "DUNNO"
    before = rss_kb(proc.pid)
    req = b"request=smtpd_access_policy\nprotocol_state=DATA\n\n"      # answered without Redis
    chunk = req * (65536 // len(req))
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.setblocking(False)
    total, limit = 0, 120 << 20
    t0 = time.monotonic()
    last_progress = t0
    pending = memoryview(chunk)
    while total < limit and time.monotonic() - t0 < 90:
        try:
            n = s.send(pending)
            total += n
            pending = pending[n:] if n < len(pending) else memoryview(chunk)
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress > 3:   # the server stopped reading
                break
            time.sleep(0.01)
    time.sleep(0.5)
    growth = rss_kb(proc.pid) - before
    print("\nnon-reading pipeliner: sent %.1f MB of requests in %.1f s; RSS growth %.1f MB"
          % (total / 1048576, time.monotonic() - t0, growth / 1024))
    assert total < limit                               # reading stopped: the client blocked
    if not harness.sanitized(harness.program("policyd", "sluice-policyd")):
        assert growth < 16 * 1024, growth              # doc/security.md: 16 MB
    assert policy_query(sock, {}) == "DUNNO"            # others are still served
    # the connection still works: it reads again as the client reads
    s.setblocking(True)
    s.settimeout(10)
    want, got, tail = total // len(req), 0, b""
    while got < want:
        data = s.recv(65536)
        assert data, (got, want)
        got += (tail + data).count(b"\n\n")
        tail = (tail + data)[-1:]
    s.close()
    assert proc.alive()


def raw_http(port, data, timeout=5):
    """Send raw bytes, return the status line (or '' when closed without one)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        buf = b""
    finally:
        s.close()
    return buf.split(b"\r\n")[0].decode()


def test_http_size_caps(env):
    """Headers over 8 KB and bodies over 4 KB are refused, nothing is buffered past them."""
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, http=True)
    big_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    status = raw_http(port, big_header)
    print("\n9 KB of headers: %r" % status)
    assert not status.startswith("HTTP/1.1 200"), status
    big_body = (b"POST /u/AAAA HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"b" * 5000)
    status = raw_http(port, big_body)
    print("5,000-byte body: %r" % status)
    assert status.startswith("HTTP/1.1 413"), status
    assert http_get(port, "/u/" + "A" * 700)[0] == 404          # token longer than 640 bytes
    assert http_get(port, "/healthz")[0] in (200, 503)
    assert proc.alive()


def test_accept_errors_back_off(env):
    """Out of descriptors (limit lowered under the running daemon, HTTP cap above
    it): accept errors pause the listener and are logged once per interval, not
    once per failed accept() in a busy loop; service comes back afterwards."""
    raise_own_fd_limit(4096)
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, "http_max_connections = 2000\n", http=True)
    subprocess.run(["prlimit", "--pid", str(proc.pid), "--nofile=120:120"], check=True)
    before = len(proc.output().splitlines())
    with SlowCrowd(port, 400):
        time.sleep(4)
        lines = proc.output().splitlines()[before:]
    accept_lines = [l for l in lines if "accept" in l]
    print("\nat the fd limit: %d log lines in 4 s (%d about accept): %s"
          % (len(lines), len(accept_lines), accept_lines[:2]))
    assert 1 <= len(accept_lines) <= 2, lines[:20]
    assert len(lines) <= 6, lines[:20]
    assert proc.alive()
    harness.wait_for(lambda: http_get(port, "/healthz")[0] in (200, 503), 10, "http back")
    harness.wait_for(lambda: policy_query(sock, {}) == "DUNNO", 10, "policy back")


def test_fd_limit_warning(env):
    """A hard limit below what the caps need is said clearly at start."""
    redis = env.redis()
    proc, sock, _ = start_policyd(env, redis, wrap=("prlimit", "--nofile=64:64", "--",
                                                    "setpriv", "--reuid=0", "--inh-caps=-all",
                                                    "--bounding-set=-sys_resource", "--"))
    proc.wait_output("file descriptor limit 64 is below the 1064")
    assert policy_query(sock, {}) == "DUNNO"


def test_fd_limit_short_shrinks_http_cap(env):
    """Without the right to raise the hard limit, HTTP gets what is left after
    the policy connections and the reserve: it still cannot starve them."""
    redis = env.redis()
    proc, sock, port = start_policyd(env, redis, "max_connections = 300\n", http=True,
                                     wrap=("prlimit", "--nofile=600:600", "--", "setpriv",
                                           "--reuid=0", "--inh-caps=-all",
                                           "--bounding-set=-sys_resource", "--"))
    assert "http_max_connections lowered to 236 per listener" in proc.output(), proc.output()
    raise_own_fd_limit(4096)
    with SlowCrowd(port, 500) as crowd:
        time.sleep(2)
        answers = latencies(sock, 20)
        got_503 = crowd.got_503
    assert max(answers) < 1.0 and got_503 > 0
