"""
NAME
    benchlib - shared helpers of Sluice's benchmark scripts

DESCRIPTION
    Figures, not assertions: medians, ratios and a plain table; running a
    program with its wall time and peak RSS or whole rusage (wait4); a
    daemon's peak RSS from /proc/PID/status (VmHWM) and its current PSS
    from /proc/PID/smaps_rollup (summed over its processes, PSS counts a
    shared page once where RSS counts it in every process); callgrind instruction
    totals; and a small client of the milter protocol (version 6) used to
    drive sluice-milter and OpenDKIM without an MTA.

    Processes are started and stopped by pid; servers listen on loopback
    or unix sockets in temporary directories only (tests/integration/
    harness.py does the starting and stopping).
"""
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402,F401


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def table(rows, head):
    """Print rows (lists) under head, columns padded to the widest cell."""
    cells = [[str(c) for c in head]] + [[str(c) for c in r] for r in rows]
    width = [max(len(r[i]) for r in cells) for i in range(len(head))]
    for n, r in enumerate(cells):
        print("  ".join(c.rjust(width[i]) if i else c.ljust(width[i]) for i, c in enumerate(r)))
        if n == 0:
            print("  ".join("-" * w for w in width))


def stamp():
    """One line saying when and where the figures were taken."""
    load = open("/proc/loadavg").read().split()[:3]
    return "%s UTC, %d cores, load average %s" % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                                                  os.cpu_count(), " ".join(load))


def run_measured(argv, stdin=None, env=None, timeout=600):
    """Run argv; returns (wall seconds, exit status, stdout bytes, peak RSS in KiB)."""
    wall, rc, data, ru = run_rusage(argv, stdin, env, timeout)
    return wall, rc, data, ru.ru_maxrss


def run_rusage(argv, stdin=None, env=None, timeout=600):
    """Run argv; returns (wall seconds, exit status, stdout bytes, wait4's rusage)."""
    out = tempfile.TemporaryFile()
    inp = open(stdin, "rb") if isinstance(stdin, str) else subprocess.DEVNULL
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, stdin=inp, env=env)
    deadline = t0 + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.002)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    data = out.read()
    out.close()
    if inp is not subprocess.DEVNULL:
        inp.close()
    return wall, p.returncode, data, ru


def vm_hwm(pid):
    """Peak resident set (KiB) of a running process, from /proc/PID/status."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_hwm(pid):
    """Sum of VmHWM over pid and its descendants (forking daemons)."""
    total = vm_hwm(pid)
    for child in children(pid):
        total += tree_hwm(child)
    return total


def pss(pid):
    """Proportional set size (KiB) of a running process: shared pages divided among sharers."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss(pid):
    """Sum of PSS over pid and its descendants (fair for forking daemons)."""
    return pss(pid) + sum(tree_pss(c) for c in children(pid))


def cpu_seconds(pid):
    """User + system CPU time of a running process (all its threads), in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_cpu(pid):
    """CPU seconds of pid and its live descendants."""
    return cpu_seconds(pid) + sum(tree_cpu(c) for c in children(pid))


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def callgrind_argv(outfile):
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + outfile, "-q"]


def callgrind_total(outfile):
    """Total instructions (Ir) recorded in a callgrind output file (all its parts)."""
    total = 0
    paths = [outfile] + [p for p in _glob(outfile + ".*")]
    for path in paths:
        try:
            with open(path) as f:
                for line in f:
                    m = re.match(r"(?:summary|totals):\s+(\d+)", line)
                    if m:
                        total += int(m.group(1))
                        break
        except OSError:
            pass
    return total


def _glob(pattern):
    import glob
    return glob.glob(pattern)


def have(program):
    from shutil import which
    return which(program) is not None


# ---------------------------------------------------------------- milter client

SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NOBODY, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NR_HDR = 0x10, 0x20, 0x40, 0x80
SMFIP_NODATA = 0x200
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_BODY = 0x10000, 0x40000, 0x80000
PROTO_OFFER = 0x1FFFFF          # every step and no-reply option Postfix offers
ACTIONS_OFFER = 0x1FF           # add/change headers, body, envelope, symlist


class MilterError(Exception):
    pass


class MilterClient:
    """One MTA-side milter connection (protocol version 6), like Postfix's smtpd.

    send_message() runs CONNECT once, then MAIL, RCPT, DATA, headers, EOH,
    body and EOM for each message, honouring the steps and replies the
    milter negotiated away, and returns (final reply, modifications).
    """

    def __init__(self, addr, macros=None, timeout=30.0):
        self.s = socket.socket(socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET)
        self.s.settimeout(timeout)
        self.s.connect(addr)
        if not isinstance(addr, str):
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.macros = macros or {}
        self.buf = b""
        self._send(b"O", struct.pack("!III", 6, ACTIONS_OFFER, PROTO_OFFER))
        cmd, data = self._read()
        if cmd != b"O" or len(data) < 12:
            raise MilterError("bad option negotiation reply %r" % cmd)
        self.version, self.actions, self.proto = struct.unpack("!III", data[:12])
        self.connected = False

    def _send(self, cmd, data=b""):
        self.s.sendall(struct.pack("!I", len(data) + 1) + cmd + data)

    def _read(self):
        while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack("!I", self.buf[:4])[0]:
            chunk = self.s.recv(65536)
            if not chunk:
                raise MilterError("milter closed the connection")
            self.buf += chunk
        n = struct.unpack("!I", self.buf[:4])[0]
        pkt, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return pkt[:1], pkt[1:]

    def _macro(self, cmd):
        pairs = self.macros.get(cmd)
        if pairs:
            self._send(b"D", cmd + b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                                            for k, v in pairs.items()))

    def _step(self, cmd, data, skip_bit, nr_bit):
        """Send one step unless negotiated away; returns the reply or None."""
        if skip_bit and self.proto & skip_bit:
            return None
        self._macro(cmd)
        self._send(cmd, data)
        if nr_bit and self.proto & nr_bit:
            return None
        c, d = self._read()
        if c != b"c":
            raise MilterError("step %r answered %r %r" % (cmd, c, d[:200]))
        return c

    def connect(self, host="client.test", addr="127.0.0.1", port=25, helo="client.test"):
        self._step(b"C", host.encode() + b"\0" + b"4" + struct.pack("!H", port) + addr.encode() + b"\0",
                   SMFIP_NOCONNECT, SMFIP_NR_CONN)
        self._step(b"H", helo.encode() + b"\0", SMFIP_NOHELO, SMFIP_NR_HELO)
        self.connected = True

    def send_message(self, mail_from, rcpts, headers, body):
        """One transaction; returns (final reply char, list of modification packets)."""
        if not self.connected:
            self.connect()
        self._step(b"M", b"<" + mail_from.encode() + b">\0", SMFIP_NOMAIL, SMFIP_NR_MAIL)
        for r in rcpts:
            self._step(b"R", b"<" + r.encode() + b">\0", SMFIP_NORCPT, SMFIP_NR_RCPT)
        self._step(b"T", b"", SMFIP_NODATA, SMFIP_NR_DATA)
        for name, value in headers:
            self._step(b"L", name.encode() + b"\0" + value.encode() + b"\0", SMFIP_NOHDRS, SMFIP_NR_HDR)
        self._step(b"N", b"", SMFIP_NOEOH, SMFIP_NR_EOH)
        if not self.proto & SMFIP_NOBODY:
            for i in range(0, len(body), 65535):
                self._macro(b"B")
                self._send(b"B", body[i:i + 65535])
                if not self.proto & SMFIP_NR_BODY:
                    c, d = self._read()
                    if c == b"s":
                        break
                    if c != b"c":
                        raise MilterError("body answered %r %r" % (c, d[:200]))
        self._macro(b"E")
        self._send(b"E")
        mods = []
        while True:
            c, d = self._read()
            if c in (b"a", b"c", b"r", b"t", b"d", b"y"):
                return c, mods
            if c == b"p":
                continue
            mods.append((c, d))

    def close(self):
        try:
            self._send(b"Q")
        except OSError:
            pass
        self.s.close()


def sample_message(n, body_bytes=2048):
    """Headers and CRLF body of the n-th test message (same for every tool)."""
    headers = [("From", "App <app@example.com>"), ("To", "rcpt%d@dest.example" % n),
               ("Subject", "Benchmark message %d" % n),
               ("Date", "Wed, 25 Nov 2026 10:00:00 +0000"),
               ("Message-ID", "<bench-%d@example.com>" % n),
               ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=us-ascii")]
    line = b"The quick brown fox jumps over the lazy dog, again and again. 0123456789\r\n"
    body = (line * (body_bytes // len(line) + 1))[:body_bytes]
    body = body[:body.rfind(b"\r\n") + 2]
    return headers, body
