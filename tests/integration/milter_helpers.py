"""
NAME
    milter_helpers - shared set-up for the sluice-milter integration tests

DESCRIPTION
    write_conf(env, body): a sluice.conf in the test's temp dir, with the
    milter socket (unix, mode 0666, so Postfix's user can connect) filled in.
    start_milter(env, conf): sluice-milter -f on that config, ready when its
    socket accepts; returns (proc, "unix:/path") for Postfix(milter=...).
    Each call uses a fresh socket path: libmilter keeps its socket for
    seconds after SIGTERM (NOTES.md).
    milter_world(name): a module fixture's world as a context manager:
    w.env and w.redis first (the caller adds keys and entries), then
    start_world(w, conf_text, sasl_users) starts the milter on that
    config, smtp-sink and a Postfix with those SASL users; everything is
    stopped when the block ends.
    received(w, subject): the (envelope, raw) with that Subject at w.sink.
"""
import contextlib
import itertools
import os
import subprocess

import conftest
import harness

_serial = itertools.count()


def milter_binary():
    return harness.program("milter", "sluice-milter")


def write_conf(env, body, redis=None, name=None):
    """A config file; body is the domain/category/tenant text, milter options via {milter}."""
    n = next(_serial)
    sock = os.path.join(env.dir, "milter-%d.sock" % n)
    text = body.replace("{socket}", "unix:" + sock)
    if redis is not None:
        text = redis.conf_section() + text
    path = env.file(name or "sluice-%d.conf" % n, text, 0o600)
    return path, sock


def start_milter(env, conf, sock):
    """Start sluice-milter in the foreground; wait for its socket."""
    proc = env.daemon("sluice-milter-%s" % os.path.basename(sock),
                      [milter_binary(), "-f", "-c", conf],
                      ready=lambda: harness.can_connect(sock))
    # stops at once, not at libmilter's next 5 s poll. Under ASan too: the
    # LeakSanitizer reports this once caused (OpenSSL torn down at exit
    # under session threads still running) are gone since sluice-milter
    # skips OpenSSL's atexit cleanup (milter_main.c).
    proc.wake = sock
    return proc, "unix:" + sock


class World:
    """The servers of one test module (attributes set by milter_world and start_world)."""


@contextlib.contextmanager
def milter_world(name):
    """Env and Redis for a module's tests (needs root: Postfix); closed at the end."""
    conftest.require_root()
    env = harness.Env(name)
    try:
        w = World()
        w.env = env
        w.redis = env.redis()
        w.records = {}
        yield w
    finally:
        env.close()


def start_world(w, conf_text, sasl_users):
    """sluice-milter on conf_text (with w.redis), smtp-sink, Postfix relaying to it."""
    w.conf, sock = write_conf(w.env, conf_text, redis=w.redis)
    w.milter, spec = start_milter(w.env, w.conf, sock)
    w.sink = w.env.sink()
    w.pf = w.env.postfix(relay=w.sink, milter=spec, sasl_users=sasl_users)


def received(w, subject, timeout=20):
    """The (envelope, raw) that reached smtp-sink with this Subject."""
    def find():
        for envelope, raw in w.sink.messages():
            if ("Subject: " + subject).encode() in raw:
                return envelope, raw
        return None
    return harness.wait_for(find, timeout, "message %s at smtp-sink" % subject)


def decode_token(conf, local):
    """Run --decode-token; returns (exit status, stdout+stderr)."""
    r = subprocess.run([milter_binary(), "-c", conf, "--decode-token", local],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def check_conf(conf):
    """Run -n; returns (exit status, output)."""
    r = subprocess.run([milter_binary(), "-n", "-c", conf], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def dkim_results(raw, records):
    """Like harness.dkim_verify, but a signature that raises counts as failed."""
    import sys
    sys.path.insert(0, "/usr/lib/python3/dist-packages")
    import dkim
    msg = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return records.get(name.rstrip("."), "").encode()

    count = sum(1 for line in msg.split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
    out = []
    for idx in range(count):
        d = dkim.DKIM(msg)
        try:
            ok = bool(d.verify(idx=idx, dnsfunc=dnsfunc))
        except Exception:
            ok = False
        sig = d.signature_fields or {}
        out.append((sig.get(b"d", b"").decode(), sig.get(b"s", b"").decode(),
                    sig.get(b"a", b"").decode(), ok))
    return out
