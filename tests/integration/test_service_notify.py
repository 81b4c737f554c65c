"""
NAME
    test_service_notify - what the units rely on: sd_notify readiness and
    reloads, and the -p pidfile, for sluice-policyd and sluice-milter

DESCRIPTION
    Each daemon runs with NOTIFY_SOCKET pointing at a datagram socket the
    test binds, as systemd does for Type=notify. READY=1 must come only
    when the daemon's socket accepts connections; a SIGHUP must be framed
    by RELOADING=1 and READY=1 (also when the new configuration is bad;
    the milter's unit reloads with SIGUSR1, see sluice-milter(8));
    SIGTERM sends STOPPING=1. The pidfile names the serving process and is
    gone after a clean stop.
"""
import os
import signal
import socket

import conftest
import harness
from milter_helpers import milter_binary, write_conf
from test_policyd_util import start_policyd


def notify_socket(env):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = os.path.join(env.dir, "notify.sock")
    s.bind(path)
    s.settimeout(15)
    return s, path


def messages(s, count):
    """The next count notification lines (one datagram may carry several)."""
    out = []
    while len(out) < count:
        out += [l for l in s.recv(4096).decode().split("\n") if l]
    return out


def test_policyd_ready_reload_stop_and_pidfile(env):
    conftest.require_root()
    redis = env.redis()
    ns, nspath = notify_socket(env)
    pidfile = os.path.join(env.dir, "policyd.pid")
    # wrap: sh runs "$0" (the binary start_policyd appends) with -p first
    wrap = ("sh", "-c", 'exec env NOTIFY_SOCKET="%s" "$0" -p "%s" "$@"' % (nspath, pidfile))
    proc, sock, _ = start_policyd(env, redis, wrap=wrap)
    assert messages(ns, 1) == ["READY=1"]
    assert harness.can_connect(sock)
    with open(pidfile) as f:
        assert int(f.read()) == proc.pid
    proc.signal(signal.SIGHUP)
    assert messages(ns, 2) == ["RELOADING=1", "READY=1"]
    # A bad configuration: the reload fails, the daemon says READY again
    with open(proc.conf_path, "a") as f:
        f.write("policyd { mode = \"bogus\" }\n")
    proc.signal(signal.SIGHUP)
    assert messages(ns, 2) == ["RELOADING=1", "READY=1"]
    assert proc.alive()
    proc.signal(signal.SIGTERM)
    assert messages(ns, 1) == ["STOPPING=1"]
    proc.popen.wait(15)
    assert not os.path.exists(pidfile)


def test_milter_ready_reload_stop_and_pidfile(env):
    conftest.require_root()
    redis = env.redis()
    ns, nspath = notify_socket(env)
    secret = env.secret()
    conf, sock = write_conf(env, 'secret_file = "%s"\nmilter { socket = "{socket}" }\n' % secret,
                            redis=redis)
    pidfile = os.path.join(env.dir, "milter.pid")
    proc = env.daemon("milter", ["env", "NOTIFY_SOCKET=" + nspath, milter_binary(), "-f",
                                 "-c", conf, "-p", pidfile])
    assert messages(ns, 1) == ["READY=1"]
    assert harness.can_connect(sock)
    with open(pidfile) as f:
        assert int(f.read()) == proc.pid
    # The unit reloads with SIGUSR1, which only the reloading thread takes:
    # every one of these must reload, none may stop the milter
    for _ in range(20):
        proc.signal(signal.SIGUSR1)
        assert messages(ns, 2) == ["RELOADING=1", "READY=1"]
    assert proc.alive()
    proc.signal(signal.SIGTERM)
    assert messages(ns, 1) == ["STOPPING=1"]
    proc.popen.wait(30)
    assert not os.path.exists(pidfile)


def test_policyd_stops_on_sigterm_while_waiting_for_redis(env):
    """SIGTERM in the start-up wait for Redis ends the daemon (it was lost, and it ran on)."""
    conftest.require_root()
    ns, nspath = notify_socket(env)
    sock = os.path.join(env.dir, "policyd.sock")
    conf = env.file("policyd.conf", (
        'secret_file = "%s"\nredis {\n  host = "127.0.0.1"\n  port = %d\n'
        '  connect_timeout = 20000\n}\npolicyd {\n  listen = { "unix:%s" }\n}\n'
        % (env.secret(), harness.free_port(), sock)))  # a closed port: no Redis
    proc = env.daemon("policyd", ["env", "NOTIFY_SOCKET=" + nspath,
                                  harness.program("policyd", "sluice-policyd"), "-f", "-c", conf],
                      ready=lambda: harness.can_connect(sock))
    proc.signal(signal.SIGTERM)
    proc.popen.wait(10)                  # well before the 20 s Redis grace
    assert proc.popen.returncode == 0, proc.output()
    ns.settimeout(0.5)
    try:
        got = messages(ns, 1)
    except TimeoutError:
        got = []
    assert "READY=1" not in got, got
