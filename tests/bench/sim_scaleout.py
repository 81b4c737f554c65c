#!/usr/bin/python3
"""
NAME
    sim_scaleout - several sluice-policyd instances and their milters' Redis work on one Redis

SYNOPSIS
    SLUICE_BUILDDIR=build /usr/bin/python3 tests/bench/sim_scaleout.py [--policyds P]
        [--connections N] [--seconds S] [--users U]

DESCRIPTION
    A scaled-down model of several MTA nodes on one Redis shard. One
    throwaway redis-server (unix socket, no persistence) and P
    sluice-policyd processes (the "nodes"), each with its own config and
    socket, all on that Redis, with the limits a relay runs: a per-user
    rate and a per-user daily quota (recipients), a per-tenant monthly
    quota (messages); suppression entries in all three scopes. A load
    generator process per policyd keeps N policy connections busy for S
    seconds (one request in flight per connection, as smtpd does), with
    U SASL users, client and server ports (so every charge also writes
    the connection's charge record, as with refunds on; --no-charge
    leaves the client port out, so no record is written).

    Then, on the same Redis, what sluice-milter asks of Redis per
    message, with the scripts' source read from the C files: the
    suppression lookup of two recipients (milter_suppress.c), the message
    record (milter_redis.c) and the settling of the charge record
    (lib/charge.c claim, nothing to refund).

    Prints decisions/s (all nodes), Redis CPU per decision and per milter
    message (INFO cpu, user + sys), the decision script's and the milter
    scripts' server time per call (INFO commandstats), and the policyds'
    CPU per decision. Redis Cluster is not used: the daemons refuse it
    (their scripts span slots), so a "shard" here is one redis-server.
    Figures only, no assertions.
"""
import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import harness  # noqa: E402
from bench_policy import connect  # noqa: E402
import keys  # noqa: E402

SRC = os.path.join(HERE, "..", "..")


def request(i, node, rnd):
    user = "user%d@tenant%d.example" % (i % USERS, i % 50)
    attrs = [("request", "smtpd_access_policy"), ("protocol_state", "RCPT"),
             ("protocol_name", "ESMTP"), ("client_address", "10.%d.%d.%d" % (node, i % 200, i % 7)),
             ("client_port", "" if NO_CHARGE else str(20000 + (i // 3) % 40000)),
             ("server_address", "10.0.0.%d" % node),
             ("server_port", "587"), ("client_name", "c.test"), ("helo_name", "c.test"),
             ("queue_id", ""), ("instance", "%x.%x.%x" % (node, rnd, i // 3)),
             ("sender", "app@tenant%d.example" % (i % 50)),
             ("recipient", "rcpt%d@dest%d.example" % (i, i % 37)),
             ("recipient_count", "0"), ("size", "2048"), ("sasl_username", user)]
    return "".join("%s=%s\n" % kv for kv in attrs).encode() + b"\n"


def generator(sock, node, connections, seconds, out):
    """Closed loop on N connections for S seconds; puts the number of answers."""
    import selectors
    sel = selectors.DefaultSelector()
    nxt = [node * 10000000]
    conns = []
    for _ in range(connections):
        c = {"s": connect(sock), "buf": b""}
        sel.register(c["s"], selectors.EVENT_READ, c)
        conns.append(c)
    end = time.perf_counter() + seconds
    done = 0
    for c in conns:
        c["s"].sendall(request(nxt[0], node, 0))
        nxt[0] += 1
    inflight = len(conns)
    while inflight:
        for key, _ in sel.select(timeout=30):
            c = key.data
            data = c["s"].recv(65536)
            if not data:
                raise ConnectionError("closed")
            c["buf"] += data
            while b"\n\n" in c["buf"]:
                _, c["buf"] = c["buf"].split(b"\n\n", 1)
                done += 1
                inflight -= 1
                if time.perf_counter() < end:
                    c["s"].sendall(request(nxt[0], node, 0))
                    nxt[0] += 1
                    inflight += 1
    out.put(done)


def c_script(path, name):
    """The Lua source of `static sl_script NAME = {...}` in a C file."""
    text = open(os.path.join(SRC, path)).read()
    body = text[text.index("sl_script %s = {" % name):]
    body = body[:body.index("};")]
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
    return bytes("".join(parts), "utf-8").decode("unicode_escape")


def cpu(redis):
    info = redis.cli("INFO", "cpu")
    vals = dict(line.split(":") for line in info.split("\n") if ":" in line)
    return float(vals["used_cpu_user"]) + float(vals["used_cpu_sys"])


def cmdstats(redis):
    out = {}
    for line in redis.cli("INFO", "commandstats").split("\n"):
        m = re.match(r"cmdstat_([a-z|]+):calls=(\d+),usec=(\d+)", line.strip())
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def milter_messages(redis, n):
    """n messages' worth of the milter's Redis scripts; returns (Redis CPU s, usec per call)."""
    lookup = c_script("milter/milter_suppress.c", "lookup_script")
    record = c_script("milter/milter_redis.c", "record_script")
    claim = c_script("lib/charge.c", "claim_script")
    shas = [redis.cli("SCRIPT", "LOAD", s) for s in (lookup, record, claim)]
    lines = []
    for i in range(n):
        r1, r2 = "rcpt%d@dest%d.example" % (i, i % 37), "rcpt%d@dest%d.example" % (i + 1, i % 37)
        supp = [keys.supp(sc, r) for r in (r1, r2)
                for sc in ("global", "cat:news", "tenant:tenant%d" % (i % 50))]
        lines.append(resp("EVALSHA", shas[0], len(supp), *supp))
        lines.append(resp("EVALSHA", shas[1], 3, keys.key("stats", "20261203", "tenant%d" % (i % 50), "news"),
                          keys.key("msg", "Q%09d" % i), keys.key("rcpts", "m%07d" % i), 2, "news",
                          "tenant%d" % (i % 50), "user@t.example", "b2a-x@news.example.com",
                          604800, 1, 2764800, "m%07d" % i, "%016x" % i, "%016x" % (i + 1)))
        lines.append(resp("EVALSHA", shas[2], 1, keys.key("charge", "10.9.%d.1/%d,10.0.0.9/587"
                                                           % (i % 200, i)), "c", r1, r2))
    before_cpu, before = cpu(redis), cmdstats(redis)
    r = subprocess.run(["redis-cli", "-s", redis.sock, "--pipe"], input="".join(lines).encode(),
                       capture_output=True, check=True)
    if b"errors: 0" not in r.stdout:
        raise RuntimeError(r.stdout.decode())
    after = cmdstats(redis)
    calls = after["evalsha"][0] - before.get("evalsha", (0, 0))[0]
    usec = after["evalsha"][1] - before.get("evalsha", (0, 0))[1]
    return cpu(redis) - before_cpu, usec / calls * 3


def resp(*args):
    out = ["*%d\r\n" % len(args)]
    for a in args:
        a = str(a)
        out.append("$%d\r\n%s\r\n" % (len(a.encode()), a))
    return "".join(out)


USERS = 1000
NO_CHARGE = False


def main():
    global USERS, NO_CHARGE
    ap = argparse.ArgumentParser()
    ap.add_argument("--policyds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=8, help="per policyd")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=50000, help="milter messages replayed")
    ap.add_argument("--no-charge", action="store_true",
                    help="no client_port in the requests: no charge records (refunds off)")
    a = ap.parse_args()
    USERS, NO_CHARGE = a.users, a.no_charge
    env = harness.Env("sim-scaleout")
    try:
        redis = env.redis()
        limits = ('  limit "user-rate" { key = \'${sasl_username}\' rate = "1000000/hour" unit = "recipients" }\n'
                  '  limit "user-day" { key = \'${sasl_username}\' window = "day" max = "100000000" unit = "recipients" }\n'
                  '  limit "tenant-month" { key = \'${sender_domain}\' window = "month" max = "100000000" }\n')
        procs = []
        for n in range(a.policyds):
            sock = os.path.join(env.dir, "policyd-%d.sock" % n)
            conf = env.file("node%d.conf" % n, 'log_level = "warning"\nsecret_file = "%s"\n%s'
                            'policyd {\n  listen = { "unix:%s" }\n%s}\n'
                            % (env.secret("k%d" % n), redis.conf_section(), sock, limits))
            p = env.daemon("policyd-%d" % n, [harness.program("policyd", "sluice-policyd"), "-f",
                                              "-c", conf], ready=lambda s=sock: harness.can_connect(s))
            procs.append((p, sock))
        harness.wait_for(lambda: redis.cli("SCARD", keys.key("limits")) == "3", 10, "limits seeded")
        for i in range(0, 3000, 3):
            redis.cli("HSET", keys.supp("global", "rcpt%d@dest%d.example" % (i * 1000 + 1, i % 37)),
                      "reason", "hard-bounce")
        time.sleep(1.0)                       # every policyd has polled the limits
        q = multiprocessing.Queue()
        cpu0 = cpu(redis)
        pcpu0 = [benchlib.cpu_seconds(p.pid) for p, _ in procs]
        st0 = cmdstats(redis)
        t0 = time.monotonic()
        gens = [multiprocessing.Process(target=generator, args=(sock, n + 1, a.connections, a.seconds, q))
                for n, (_, sock) in enumerate(procs)]
        for g in gens:
            g.start()
        total = sum(q.get(timeout=a.seconds + 60) for _ in gens)
        for g in gens:
            g.join()
        wall = time.monotonic() - t0
        rcpu = cpu(redis) - cpu0
        pcpu = sum(benchlib.cpu_seconds(p.pid) - c for (p, _), c in zip(procs, pcpu0))
        st = cmdstats(redis)
        evals = st["evalsha"][0] - st0.get("evalsha", (0, 0))[0]
        eusec = st["evalsha"][1] - st0.get("evalsha", (0, 0))[1]
        print("sim_scaleout: %d policyds x %d connections, %d SASL users, %.0f s, %s UTC, load %s"
              % (a.policyds, a.connections, a.users, a.seconds, time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                 " ".join(open("/proc/loadavg").read().split()[:3])))
        print("decisions            %d in %.1f s: %.0f decisions/s (all nodes)" % (total, wall, total / wall))
        print("redis CPU            %.1f us per decision (user+sys), decision script %.1f us per call"
              % (rcpu / total * 1e6, eusec / max(1, evals)))
        print("policyd CPU          %.1f us per decision (all policyds)" % (pcpu / total * 1e6))
        charges = redis.cli("KEYS", keys.pattern("charge"))
        print("keys after           %s (charge records: %d)"
              % (redis.cli("DBSIZE"), len(charges.split("\n")) if charges else 0))
        mcpu, musec = milter_messages(redis, a.messages)
        print("milter per message   redis CPU %.1f us (lookup 2 rcpts x 3 scopes + record + settle), "
              "scripts %.1f us per message" % (mcpu / a.messages * 1e6, musec))
    finally:
        env.close()


if __name__ == "__main__":
    main()
