"""
NAME
    harness - real servers for Sluice's integration tests

DESCRIPTION
    Starts, in one temporary directory and on loopback or unix sockets only:
    a throwaway redis-server, Postfix's smtp-sink as the next hop, a
    throwaway Postfix instance (own config, queue and data directories,
    optional Cyrus SASL users), and the Sluice daemons. Every process is
    recorded by pid and stopped by pid in Env.close(), which the pytest
    fixture calls also when a test fails.

    Paths: SLUICE_BUILDDIR (default: top_builddir from make, or ./build)
    holds the built programs; tests need root for Postfix.

USE
    env = Env()                       # temp dir, nothing started
    redis = env.redis()               # .sock, .port, .cli("GET", "k")
    sink = env.sink()                 # .port, .messages()
    pf = env.postfix(relay=sink, milter=..., policy=...)
    pf.send(...)  / pf.swaks(...) / pf.smtp_source(...)
    env.close()
"""

import email
import email.policy
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("top_srcdir") or os.path.abspath(os.path.join(HERE, "..", ".."))
BUILDDIR = (os.environ.get("SLUICE_BUILDDIR") or os.environ.get("top_builddir")
            or os.path.join(SRCDIR, "build"))


def program(part, name):
    """Path of a built Sluice program, e.g. program("milter", "sluice-milter")."""
    path = os.path.join(BUILDDIR, part, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError("%s is not built (looked in %s; set SLUICE_BUILDDIR)" % (name, path))
    return path


def _port_range():
    """The TCP ports this process hands out: its own slice under pytest-xdist.

    Each xdist worker (PYTEST_XDIST_WORKER=gwN) gets 1000 ports of its own
    in 20000-31999, so two workers never pick the same port; a run without
    xdist uses the whole range. All of it is below the kernel's ephemeral
    range (32768 and up here), so that an outgoing connection cannot take a
    port between the check and the server's bind, as a port from bind(0)
    could be."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        lo = 20000 + (int(worker[2:]) % 12) * 1000
        return lo, lo + 1000
    return 20000, 32000


_next_port = [None]


def free_port(udp=False):
    """A TCP port on 127.0.0.1 that nobody uses right now (and UDP too with udp=True).

    Ports are handed out in turn from this process's range (_port_range),
    starting at a random place, so one test never gets the same port twice
    before it binds it, and each is checked free by binding it (other
    engineers' runs share the machine). A DNS server (dnsmasq) takes the
    UDP and the TCP port: never one from bind(0), whose TCP twin an
    outgoing connection may hold."""
    import random
    lo, hi = _port_range()
    if _next_port[0] is None:
        _next_port[0] = random.randrange(lo, hi)
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    for _ in range(hi - lo):
        port = _next_port[0]
        _next_port[0] = lo + (port + 1 - lo) % (hi - lo)
        try:
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port in %d-%d" % (lo, hi - 1))


class TransientError(RuntimeError):
    """A server could not be reached just now (refused, reset, closed, still loading).

    Raised by Redis.cli() and SentinelSet.sentinel_cli(); wait_for() takes
    it as "not yet", like a connection error of the test's own sockets."""


# redis-cli's words for a server that is restarting, being reconfigured or
# not listening yet: a poll retries these, a one-shot command fails on them.
TRANSIENT_MARKERS = ("Connection reset", "Connection refused", "Could not connect",
                     "Server closed the connection", "Broken pipe", "LOADING",
                     "No such file or directory", "I/O error", "Connection timed out")

# What a condition polled by wait_for() may raise and still mean "not yet".
NOT_YET = (TransientError, OSError, subprocess.TimeoutExpired)


def redis_cli_failed(what, r):
    """The exception for a failed redis-cli run: TransientError when it could not talk to the server."""
    text = (r.stderr or "") + (r.stdout or "")
    # killed by SIGPIPE: it wrote to a server that closed the connection ("Broken pipe")
    transient = r.returncode == -signal.SIGPIPE or any(m in text for m in TRANSIENT_MARKERS)
    cls = TransientError if transient else RuntimeError
    return cls("redis-cli %s: %s" % (what, (r.stderr or r.stdout).strip()))


# The shortest wait: the suite runs in parallel on a loaded 2-core machine,
# where a daemon can take seconds to answer; a wait only ends early.
MIN_WAIT = float(os.environ.get("SLUICE_MIN_WAIT", "30"))


def wait_for(cond, timeout=10.0, what="condition", interval=0.05):
    """Poll cond() until it returns a true value; raise with what on timeout.

    A connection error inside cond() (NOT_YET: a server restarting or being
    reconfigured) counts as "not yet"; the last one is named on timeout.
    Load on the machine only makes the wait longer, never a failure, so
    timeouts here are generous upper bounds, not expectations."""
    timeout = max(timeout, MIN_WAIT)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = cond()
        except NOT_YET as e:
            value, last = None, e
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s%s" % (
                timeout, what, " (last error: %r)" % last if last else ""))
        time.sleep(interval)


def can_connect(addr):
    """True when a TCP (host, port) or unix socket path accepts a connection."""
    fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    with socket.socket(fam) as s:
        s.settimeout(0.5)
        try:
            s.connect(addr)
            return True
        except OSError:
            return False


class Proc:
    """A child process we started, stopped by pid."""

    def __init__(self, env, name, argv, **kw):
        self.name = name
        self.argv = argv
        self.log = os.path.join(env.dir, "%s.log" % name)
        self.logf = open(self.log, "ab")
        self.popen = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, **kw)
        self.pid = self.popen.pid
        env.procs.append(self)

    def alive(self):
        return self.popen.poll() is None

    def catches(self, sig):
        """True when the process's main thread has a handler for sig and does not block it.

        A daemon binds its socket before it installs its SIGHUP handler
        (sluice-milter: libmilter's signal thread would take a SIGHUP that
        comes earlier, and stop); /proc tells when a reload signal is safe."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                fields = dict(l.split(":", 1) for l in f if ":" in l)
        except OSError:
            return False
        bit = 1 << (sig - 1)
        return bool(int(fields["SigCgt"], 16) & bit) and not int(fields["SigBlk"], 16) & bit

    def signal(self, sig):
        """Send sig; a reload signal (SIGHUP, SIGUSR1) once the process handles it."""
        if sig in (signal.SIGHUP, signal.SIGUSR1) and self.alive():
            wait_for(lambda: self.catches(sig) or not self.alive(), what="%s to handle %s" % (
                self.name, signal.Signals(sig).name))
        if self.alive():
            os.kill(self.pid, sig)

    # A socket to connect to after SIGTERM (set by milter_helpers.start_milter):
    # libmilter's listener polls its socket with a 5 s timeout and looks at
    # its stop flag only when the poll returns, so a connection wakes it.
    wake = None

    def terminate(self):
        """Send SIGTERM without waiting (Env.close() stops everything at once)."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            if self.wake:
                can_connect(self.wake)

    def stop(self, timeout=30.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        self.terminate()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.popen.wait(0.2 if self.wake else timeout)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    self.popen.kill()
                    self.popen.wait()
                    break
                can_connect(self.wake)  # the stop flag was set after the last wake-up
        self.logf.close()
        return self.popen.returncode

    def kill(self):
        """SIGKILL at once (a crash, as far as peers can tell)."""
        if self.alive():
            self.popen.kill()
            self.popen.wait()

    def output(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_output(self, text, count=1, timeout=10.0):
        """Wait until text is in the output (count times at least); returns the output.

        A daemon may log a line after the reply, the socket or the closed
        connection a test has already seen: a log assertion waits for it.
        A negative assertion ("X not in the log") needs a sync point of its
        own first: this, for a line the daemon writes after X would be."""
        try:
            return wait_for(lambda: self.output().count(text) >= count and self.output(),
                            timeout, "%r in the log of %s" % (text, self.name))
        except TimeoutError as e:
            raise AssertionError("%s\n--- %s ---\n%s" % (e, self.name, self.output()[-3000:]))


class Redis:
    """A throwaway redis-server on a unix socket (and a loopback port with tcp=True).

    Without tcp, it listens on no TCP port at all: a port chosen free at
    start could be taken by someone's outgoing connection by the time a
    test restarts the server on it.
    """

    _serial = 0

    def __init__(self, env, port=None, sock=None, tcp=False, args=()):
        self.env = env
        self.args = list(args)          # more redis-server options, after ours
        Redis._serial += 1
        self.name = "redis-%d" % Redis._serial
        self.sock = sock or os.path.join(env.dir, "%s.sock" % self.name)
        self.port = port or (free_port() if tcp else None)
        self.start()

    def start(self):
        argv = ["redis-server", "--port", str(self.port or 0), "--bind", "127.0.0.1",
                "--unixsocket", self.sock, "--unixsocketperm", "777",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", self.env.dir] + self.args
        self.proc = Proc(self.env, self.name, argv)
        self.proc.server = True          # stopped after the daemons (Env.close)
        wait_for(lambda: can_connect(self.sock) or not self.proc.alive(), what="redis-server socket")
        if not self.proc.alive():
            raise RuntimeError("redis-server exited:\n" + self.proc.output())

    def stop(self):
        self.proc.stop()

    def kill(self):
        self.proc.kill()

    def cli(self, *args, check=True):
        """Run redis-cli against this server; returns stdout without the newline."""
        auth = []
        if "--requirepass" in self.args:    # the default user's password
            auth = ["-a", self.args[self.args.index("--requirepass") + 1], "--no-auth-warning"]
        r = subprocess.run(["redis-cli", "-s", self.sock, "--no-raw" if False else "--raw"] + auth
                           + [str(a) for a in args], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise redis_cli_failed(args, r)
        return r.stdout.rstrip("\n")

    def conf_section(self, prefix="sluice:", command_timeout=5000, connect_timeout=500):
        """The redis { } block of sluice.conf for this server.

        command_timeout as long as start_policyd's per-request deadline: a
        reply late by scheduling alone (ASan, 6 workers, 2 shared cores) would
        otherwise be a Redis failure (fail actions, tempfails) that the test
        did not ask for. Tests of Redis going away stop, kill or freeze the
        server, or write their own block. connect_timeout is also how long
        sluice-policyd waits for Redis at its start (test_policyd_redis_down
        times the wait with Redis down)."""
        return ('redis {\n  socket = "%s"\n  prefix = "%s"\n  connect_timeout = %d\n'
                '  command_timeout = %d\n}\n' % (self.sock, prefix, connect_timeout, command_timeout))


class SentinelSet:
    """A primary, a replica and three redis-sentinel processes on loopback.

    All TCP (Sentinel hands out host:port addresses), all in the test's
    temp dir, all stopped by pid. The sentinels watch the master as
    MASTER_NAME with quorum 2 and down-after 1 s, so a test sees a
    failover within seconds. conf_section() is the sentinel form of the
    redis { } block; master() is the Redis that is master right now.
    """

    MASTER_NAME = "sluicemaster"
    DATA_PW = "data-pw"                  # default user on the data nodes (auth=True)
    SLUICE_USER, SLUICE_PW = "sluice", "sluice-pw"   # the ACL user Sluice uses
    SENTINEL_USER, SENTINEL_PW = "watcher", "watch-pw"  # on the sentinels

    def __init__(self, env, sentinel_args=(), auth=False):
        self.env = env
        self.auth = auth
        data = []
        sentinel_args = list(sentinel_args)
        if auth:
            data = ["--requirepass", self.DATA_PW, "--masterauth", self.DATA_PW,
                    "--user", self.SLUICE_USER, "on", ">" + self.SLUICE_PW, "~*", "&*", "+@all"]
            sentinel_args += ["sentinel auth-pass %s %s" % (self.MASTER_NAME, self.DATA_PW),
                              "requirepass %s" % self.SENTINEL_PW,
                              "user %s on >%s +@all" % (self.SENTINEL_USER, self.SENTINEL_PW)]
        self.primary = Redis(env, tcp=True, args=data)
        self.replica = Redis(env, tcp=True, args=data + ["--replicaof", "127.0.0.1", str(self.primary.port)])
        self.nodes = [self.primary, self.replica]
        wait_for(lambda: "master_link_status:up" in self.replica.cli("INFO", "replication"),
                 20, "replica in sync")
        self.sentinels = []
        for i in range(3):
            port = free_port()
            path = env.file("sentinel-%d.conf" % i,
                            "port %d\nbind 127.0.0.1\ndir %s\n"
                            "sentinel monitor %s 127.0.0.1 %d 2\n"
                            "sentinel down-after-milliseconds %s 1000\n"
                            "sentinel failover-timeout %s 10000\n"
                            "sentinel parallel-syncs %s 1\n%s"
                            % (port, env.dir, self.MASTER_NAME, self.primary.port,
                               self.MASTER_NAME, self.MASTER_NAME, self.MASTER_NAME,
                               "".join(a + "\n" for a in sentinel_args)))
            proc = Proc(env, "sentinel-%d" % i, ["redis-server", path, "--sentinel"])
            proc.server = True
            wait_for(lambda: can_connect(("127.0.0.1", port)) or not proc.alive(), what="sentinel")
            self.sentinels.append((port, proc))
        # every sentinel knows the replica and the other sentinels
        wait_for(lambda: all(self.sentinel_cli(i, "SENTINEL", "replicas", self.MASTER_NAME).strip()
                             and int(self._field(i, "num-other-sentinels")) == 2
                             for i in range(3)), 30, "sentinels to discover each other")

    def sentinel_cli(self, i, *args):
        auth = ["--user", self.SENTINEL_USER, "--pass", self.SENTINEL_PW, "--no-auth-warning"] if self.auth else []
        r = subprocess.run(["redis-cli", "-p", str(self.sentinels[i][0]), "--raw"] + auth + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0 and any(m in r.stderr + r.stdout for m in TRANSIENT_MARKERS):
            raise redis_cli_failed(args, r)
        return r.stdout.rstrip("\n")

    def _field(self, i, name):
        lines = self.sentinel_cli(i, "SENTINEL", "master", self.MASTER_NAME).split("\n")
        return lines[lines.index(name) + 1] if name in lines else "0"

    def alive(self):
        """Indexes of the sentinels still running."""
        return [i for i, (_, p) in enumerate(self.sentinels) if p.alive()]

    def stop_sentinel(self, i):
        self.sentinels[i][1].stop()

    def master_port(self, i=None):
        """The master's port as sentinel i (default: the first alive) reports it."""
        i = self.alive()[0] if i is None else i
        out = self.sentinel_cli(i, "SENTINEL", "get-master-addr-by-name", self.MASTER_NAME).split("\n")
        if len(out) < 2 or not out[1].isdigit():
            raise TransientError("sentinel %d has no master address: %r" % (i, out))
        return int(out[1])

    def master(self):
        port = self.master_port()
        return next(n for n in self.nodes if n.port == port)

    def role(self, node):
        return node.cli("ROLE").split("\n")[0]

    def failover(self, timeout=30, on_switch=None):
        """SENTINEL FAILOVER; returns (old master, new master) once both have their new roles.

        on_switch(old, new) is called as soon as every sentinel names the
        new master (the old one is still a master then: Sentinel demotes
        it seconds later). self.times holds the monotonic times of the
        command ("failover"), "switch" and "demoted"."""
        old = self.master()
        self.times = {"failover": time.monotonic()}
        out = self.sentinel_cli(self.alive()[0], "SENTINEL", "FAILOVER", self.MASTER_NAME)
        if out != "OK":
            raise RuntimeError("SENTINEL FAILOVER: %s" % out)
        wait_for(lambda: all(self.master_port(i) != old.port for i in self.alive()), timeout, "switch-master",
                 interval=0.01)
        self.times["switch"] = time.monotonic()
        new = self.master()
        if on_switch:
            on_switch(old, new)
        wait_for(lambda: self.role(new) == "master" and self.role(old) == "slave", timeout,
                 "old master demoted", interval=0.01)
        self.times["demoted"] = time.monotonic()
        return old, new

    def conf_section(self, prefix="sluice:", extra=""):
        if self.auth and "sentinel_password_file" not in extra:
            extra += ('  user = "%s"\n  password = "%s"\n  sentinel_user = "%s"\n'
                      '  sentinel_password_file = "%s"\n'
                      % (self.SLUICE_USER, self.SLUICE_PW, self.SENTINEL_USER,
                         self.env.file("sentinel.pw", self.SENTINEL_PW + "\n", 0o600)))
        return ('redis {\n  sentinels = { %s }\n  master_name = "%s"\n  prefix = "%s"\n'
                '  connect_timeout = 500\n  command_timeout = 500\n%s}\n'
                % (", ".join('"127.0.0.1:%d"' % p for p, _ in self.sentinels),
                   self.MASTER_NAME, prefix, extra))


class Cluster:
    """A 3-master Redis Cluster on loopback (no replicas), in the test's temp dir.

    redis-server --cluster-enabled yes three times, then redis-cli
    --cluster create; stopped by pid like every Redis here. nodes[i] is
    a Redis (cli() works on it); owner(key) is the node serving key.
    """

    def __init__(self, env):
        self.env = env
        self.nodes = []
        for i in range(3):
            port, bus = free_port(), free_port()
            self.nodes.append(Redis(env, port=port, args=[
                "--cluster-enabled", "yes", "--cluster-port", str(bus),
                "--cluster-config-file", os.path.join(env.dir, "nodes-%d.conf" % port),
                "--cluster-node-timeout", "2000"]))
        r = subprocess.run(["redis-cli", "--cluster", "create"]
                           + ["127.0.0.1:%d" % n.port for n in self.nodes] + ["--cluster-yes"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("redis-cli --cluster create: %s %s" % (r.stdout, r.stderr))
        wait_for(lambda: all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in self.nodes),
                 30, "cluster_state:ok")

    def node_id(self, node):
        return node.cli("CLUSTER", "MYID")

    def keyslot(self, key):
        return int(self.nodes[0].cli("CLUSTER", "KEYSLOT", key))

    def slot_ranges(self, node):
        """The (first, last) slot ranges node serves, from its own CLUSTER NODES line
        (slots being migrated, "[...]", left out)."""
        for line in node.cli("CLUSTER", "NODES").splitlines():
            f = line.split()
            if "myself" not in f[2]:
                continue
            for rng in f[8:]:
                if not rng.startswith("["):
                    lo, _, hi = rng.partition("-")
                    yield int(lo), int(hi or lo)

    def owner(self, key):
        slot = self.keyslot(key)
        for n in self.nodes:
            if any(lo <= slot <= hi for lo, hi in self.slot_ranges(n)):
                return n
        raise RuntimeError("no owner for %s" % key)

    def reshard(self, src, dst, nslots=None):
        """redis-cli --cluster reshard of nslots (all of src's by default) from src to dst."""
        if nslots is None:
            nslots = sum(hi - lo + 1 for lo, hi in self.slot_ranges(src))
        return subprocess.run(["redis-cli", "--cluster", "reshard", "127.0.0.1:%d" % src.port,
                               "--cluster-from", self.node_id(src), "--cluster-to", self.node_id(dst),
                               "--cluster-slots", str(nslots), "--cluster-yes"],
                              capture_output=True, text=True, timeout=300)

    def conf_section(self, prefix="sluice:"):
        return ('redis {\n  cluster_nodes = { %s }\n  prefix = "%s"\n'
                '  connect_timeout = 500\n  command_timeout = 2000\n}\n'
                % (", ".join('"127.0.0.1:%d"' % n.port for n in self.nodes), prefix))


class Sink:
    """Postfix's smtp-sink storing every message as a file with X-Mail-Args etc."""

    def __init__(self, env, extra_args=()):
        self.env = env
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="sink-", dir=env.dir)
        os.chmod(self.dir, 0o777)
        argv = ["smtp-sink", "-u", "postfix", "-d", os.path.join(self.dir, "%M%S."),
                "-h", "sink.test"] + list(extra_args) + ["127.0.0.1:%d" % self.port, "256"]
        self.proc = Proc(env, "smtp-sink-%d" % self.port, argv)
        wait_for(lambda: can_connect(("127.0.0.1", self.port)), what="smtp-sink")

    def files(self):
        """The messages smtp-sink has written and closed (it writes a file as the data comes)."""
        found = glob.glob(os.path.join(self.dir, "*"))
        fds = "/proc/%d/fd" % self.proc.pid
        writing = set()
        try:
            for fd in os.listdir(fds):
                try:
                    writing.add(os.readlink(os.path.join(fds, fd)))
                except OSError:
                    pass
        except OSError:
            pass                # smtp-sink stopped: every file is closed
        return sorted(f for f in found if os.path.realpath(f) not in writing)

    def messages(self):
        """Every stored message as (envelope dict, raw bytes of the message)."""
        out = []
        for path in self.files():
            with open(path, "rb") as f:
                out.append(parse_sink_file(f.read()))
        return out

    def wait(self, count, timeout=30.0):
        return wait_for(lambda: len(self.files()) >= count and self.messages(),
                        timeout, "%d message(s) at smtp-sink" % count)


def parse_sink_file(data):
    """Split smtp-sink's pseudo headers (X-Client-Addr:, X-Mail-Args:, X-Rcpt-Args:) from the message."""
    env = {"mail_from": None, "rcpts": []}
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and lines[i].startswith(b"X-") and (
            lines[i].startswith(b"X-Client-") or lines[i].startswith(b"X-Helo-")
            or lines[i].startswith(b"X-Mail-Args:") or lines[i].startswith(b"X-Rcpt-Args:")):
        line = lines[i].decode("utf-8", "replace")
        if line.startswith("X-Mail-Args:"):
            env["mail_from"] = line.split(":", 1)[1].strip().split()[0].strip("<>") if line.split(":", 1)[1].strip() else ""
        elif line.startswith("X-Rcpt-Args:"):
            env["rcpts"].append(line.split(":", 1)[1].strip().split()[0].strip("<>"))
        i += 1
    raw = b"\n".join(lines[i:])
    return env, raw


class Postfix:
    """A throwaway Postfix instance: its own config, queue and data directories."""

    def __init__(self, env, relay=None, milter=None, policy=None, main=None, master=(),
                 sasl_users=None, name="postfix"):
        self.env = env
        self.dir = os.path.join(env.dir, name)
        self.etc = os.path.join(self.dir, "etc")
        self.port = free_port()
        for d in ("etc", "spool", "data", "log"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.chmod(self.dir, 0o755)
        shutil.chown(os.path.join(self.dir, "data"), "postfix", "postfix")
        shutil.copy("/etc/postfix/master.cf", self.etc)
        open(os.path.join(self.etc, "main.cf"), "w").close()
        self.maillog = os.path.join(self.dir, "log", "maillog")
        params = {
            "compatibility_level": "3.6",
            "queue_directory": os.path.join(self.dir, "spool"),
            "data_directory": os.path.join(self.dir, "data"),
            "maillog_file": self.maillog,
            "maillog_file_prefixes": os.path.join(self.dir, "log"),
            "mail_owner": "postfix", "setgid_group": "postdrop",
            "myhostname": "mta.sluice.test", "mydomain": "sluice.test",
            "mydestination": "", "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_recipient_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject",
            "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
            "smtp_dns_support_level": "disabled", "smtp_host_lookup": "native",
            "smtp_tls_security_level": "none", "smtpd_tls_security_level": "none",
            "alias_maps": "", "alias_database": "", "local_recipient_maps": "",
            "biff": "no", "append_dot_mydomain": "no", "message_size_limit": "52428800",
            "milter_default_action": "tempfail",
            "queue_run_delay": "5s", "minimal_backoff_time": "5s", "maximal_backoff_time": "10s",
            "bounce_queue_lifetime": "1d", "delay_warning_time": "0",
            "smtpd_client_connection_count_limit": "0", "smtpd_client_connection_rate_limit": "0",
            "default_process_limit": "20",
        }
        if relay is not None:
            params["relayhost"] = "[127.0.0.1]:%d" % relay.port
            params["default_transport"] = "smtp"
        if milter:
            params["smtpd_milters"] = milter
            params["non_smtpd_milters"] = ""
        if policy:
            params["smtpd_recipient_restrictions"] = (
                "check_policy_service { %s, default_action=DUNNO }, "
                "permit_mynetworks, permit_sasl_authenticated, reject" % policy)
        if sasl_users:
            self._sasl(params, sasl_users)
        params.update(main or {})
        self.postconf(*["%s=%s" % kv for kv in params.items()])
        # Our own listener, no chroot anywhere (paths are absolute temp paths).
        subprocess.run(["postconf", "-c", self.etc, "-MX", "smtp/inet"], check=True)
        subprocess.run(["postconf", "-c", self.etc, "-M",
                        "127.0.0.1:%d/inet=127.0.0.1:%d inet n - n - - smtpd" % (self.port, self.port)], check=True)
        for line in master:
            subprocess.run(["postconf", "-c", self.etc, "-M", line], check=True)
        subprocess.run(["postconf", "-c", self.etc, "-F", "*/*/chroot = n"], check=True)
        self.start()

    def _sasl(self, params, users):
        """Cyrus SASL with a private sasldb: PLAIN and LOGIN for the given users."""
        db = os.path.join(self.dir, "sasldb2")
        # Debian's Postfix reads <config_directory>/sasl/smtpd.conf (its
        # patch 07_sasl_config), not cyrus_sasl_config_path itself.
        os.makedirs(os.path.join(self.etc, "sasl"), exist_ok=True)
        with open(os.path.join(self.etc, "sasl", "smtpd.conf"), "w") as f:
            f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\n"
                    "sasldb_path: %s\n" % db)
        for user, password in users.items():
            # realm = myhostname, Cyrus's default when smtpd_sasl_local_domain
            # is empty: the login name reaches milters and policy as typed.
            subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", "mta.sluice.test", user],
                           input=password.encode(), check=True)
        shutil.chown(db, "postfix", "postfix")
        os.chmod(db, 0o600)
        params.update({"smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "cyrus",
                       "smtpd_sasl_path": "smtpd",
                       "smtpd_sasl_security_options": "noanonymous",
                       "broken_sasl_auth_clients": "no"})

    def postconf(self, *settings):
        subprocess.run(["postconf", "-c", self.etc, "-e"] + list(settings), check=True)

    def cmd(self, *args, check=True):
        r = subprocess.run(["postfix", "-c", self.etc] + list(args), capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError("postfix %s: %s%s\n%s" % (args, r.stdout, r.stderr, self.log()))
        return r

    def start(self):
        # "postfix check" was seen to fail once, silently, while other
        # instances started and stopped: try it again before giving up.
        for attempt in range(3):
            if self.cmd("check", check=False).returncode == 0:
                break
            time.sleep(0.5)
        else:
            self.cmd("check")
        self.cmd("start")
        wait_for(lambda: can_connect(("127.0.0.1", self.port)), what="postfix smtpd")
        with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
            self.master_pid = int(f.read().split()[0])
        self.env.postfixes.append(self)

    def stop(self):
        """postfix stop, and wait for the master to exit (SIGKILL after 30 s)."""
        self.stop_begin()
        self.stop_wait()

    def stop_begin(self):
        """SIGTERM to the master, as postfix stop does, without its wait of a second or more."""
        if self in self.env.postfixes:
            self.env.postfixes.remove(self)
            try:
                os.kill(self.master_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.stopping = True

    def stop_wait(self):
        if getattr(self, "stopping", False):
            self.stopping = False
            try:
                wait_for(lambda: not pid_alive(self.master_pid), 30, "postfix master exit")
            except TimeoutError:
                os.kill(self.master_pid, signal.SIGKILL)

    def reload(self):
        self.cmd("reload")

    def flush(self):
        self.cmd("flush", check=False)

    def queue(self):
        """Queue ids of messages in this instance's queue (all queues)."""
        r = subprocess.run(["postqueue", "-c", self.etc, "-j"], capture_output=True, text=True)
        import json
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def smtp_source(self, *args, timeout=120):
        """Run smtp-source against our smtpd; returns the CompletedProcess."""
        argv = ["smtp-source"] + [str(a) for a in args] + ["127.0.0.1:%d" % self.port]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def swaks(self, *args, timeout=60):
        """Run swaks against our smtpd; returns the CompletedProcess (text)."""
        argv = ["swaks", "--server", "127.0.0.1", "--port", str(self.port),
                "--helo", "client.sluice.test"] + [str(a) for a in args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def send(self, mail_from, rcpts, data, auth=None):
        """Send one message with smtplib; returns (accepted?, refused dict or error)."""
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.sluice.test", timeout=60) as s:
            if auth:
                s.login(*auth)
            return s.sendmail(mail_from, rcpts, data)


_sanitized = {}


def sanitized(binary):
    """An ASan build: its allocator's quarantine makes RSS figures meaningless."""
    if binary not in _sanitized:
        with open(binary, "rb") as f:
            _sanitized[binary] = b"__asan_init" in f.read()
    return _sanitized[binary]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class Env:
    """One test's world: a temp dir and every process started in it."""

    def __init__(self, name="sluice"):
        self.dir = tempfile.mkdtemp(prefix="%s-it-" % name)
        os.chmod(self.dir, 0o755)
        self.procs = []
        self.postfixes = []

    def redis(self, **kw):
        return Redis(self, **kw)

    def sentinels(self, **kw):
        return SentinelSet(self, **kw)

    def cluster(self):
        return Cluster(self)

    def sink(self, *extra):
        return Sink(self, extra)

    def postfix(self, **kw):
        return Postfix(self, **kw)

    def file(self, name, text, mode=0o644):
        """Write a file in the temp dir; returns its path."""
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def secret(self, name="token.key"):
        """A private token secret file (mode 600)."""
        return self.file(name, os.urandom(24).hex() + "\n", 0o600)

    def daemon(self, name, argv, ready=None, timeout=10.0):
        """Start a Sluice daemon in the foreground; wait until ready() when given."""
        p = Proc(self, name, argv)
        if ready is not None:
            try:
                wait_for(lambda: ready() or not p.alive(), timeout, "%s to be ready" % name)
            except TimeoutError:
                raise RuntimeError("%s not ready:\n%s" % (name, p.output()))
            if not p.alive():
                raise RuntimeError("%s exited with %s:\n%s" % (name, p.popen.returncode, p.output()))
        return p

    def close(self):
        """Stop everything by pid; keep the directory when SLUICE_KEEP is set.

        Raises AssertionError, after everything is stopped, when a process
        we started printed a sanitizer report (ASan, UBSan, LeakSanitizer):
        with a sanitizer build of Sluice, the integration suite then fails
        on memory errors the tests' own assertions would not notice.
        """
        # At once, not one after the other: libmilter takes seconds to exit
        # after SIGTERM, Postfix's master too. The Redis servers go last, so
        # no daemon sees its Redis vanish while it shuts down.
        pfs = list(self.postfixes)
        for pf in pfs:
            pf.stop_begin()
        servers = [p for p in self.procs if getattr(p, "server", False)]
        for group in ([p for p in self.procs if p not in servers], servers):
            for p in group:
                p.terminate()
            for p in reversed(group):
                try:
                    p.stop()
                except Exception as e:  # keep stopping the others
                    print("harness: stopping %s: %s" % (p.name, e), file=sys.stderr)
            for pf in pfs:
                pf.stop_wait()
        reports = [(p.name, sanitizer_report(p.output())) for p in self.procs]
        reports = [(name, text) for name, text in reports if text]
        if not os.environ.get("SLUICE_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer reports:\n" + "\n".join(
                "--- %s ---\n%s" % r for r in reports))


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: AddressSanitizer")


def sanitizer_report(text):
    """The first lines of a sanitizer report in a process's output, or ""."""
    for marker in SANITIZER_MARKERS:
        at = text.find(marker)
        if at >= 0:
            return text[max(0, text.rfind("\n", 0, at)):][:3000]
    return ""


def dkim_keypair(env, name, algorithm="rsa"):
    """Generate a DKIM private key file (mode 600) and return (path, DNS TXT value)."""
    import base64
    key = os.path.join(env.dir, "%s.%s.pem" % (name, algorithm))
    if algorithm == "rsa":
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", key], check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    else:
        subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", key],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        txt = "v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:]).decode()
    os.chmod(key, 0o600)
    return key, txt


def dkim_verify(raw, records):
    """Verify every DKIM-Signature of raw with dkimpy, DNS answered from records.

    records maps "selector._domainkey.domain" to the TXT value. Returns a list
    of (d, s, a, ok) per signature, in header order.
    """
    sys.path.insert(0, "/usr/lib/python3/dist-packages")
    import dkim
    msg = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def dnsfunc(name, timeout=5):
        return records.get(name.decode().rstrip(".") if isinstance(name, bytes) else name.rstrip("."), "").encode()

    d = dkim.DKIM(msg)
    results = []
    count = sum(1 for line in msg.split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
    for idx in range(count):
        ok = d.verify(idx=idx, dnsfunc=dnsfunc)
        sig = d.signature_fields
        results.append((sig.get(b"d", b"").decode(), sig.get(b"s", b"").decode(),
                        sig.get(b"a", b"").decode(), bool(ok)))
    return results


def header_values(raw, name):
    """All values of a header field in a raw message (unfolded)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return [str(v).replace("\r\n", "").replace("\n", "") for v in (msg.get_all(name) or [])]
