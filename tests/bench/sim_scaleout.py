#!/usr/bin/python3
"""
NAME
    sim_scaleout - several MTA nodes' Redis work, on one Redis and on a
    3-master Redis Cluster, in alternate rounds

SYNOPSIS
    SLUICE_BUILDDIR=build /usr/bin/python3 tests/bench/sim_scaleout.py
        [--backends single,cluster] [--rounds R] [--policyds P]
        [--connections N] [--seconds S] [--users U] [--messages M]
        [--milter-connections C] [--bounces B] [--no-charge] [--no-global-limit]
        [--idle S]

DESCRIPTION
    A scaled-down model of several MTA nodes sharing Redis. Two backends,
    both on loopback TCP in a temporary directory, without persistence:
    "single", one redis-server, and "cluster", a real 3-master Redis
    Cluster (harness.Cluster: redis-server --cluster-enabled yes three
    times, redis-cli --cluster create). A third, "unix", is one
    redis-server on a unix socket (--backends unix,single: what TCP
    costs). On each backend run P
    sluice-policyd processes (the "nodes", each with its own config and
    socket) and one sluice-milter, all with the compact suppression
    layout and the limits a relay runs:
      user-rate     key ${sasl_username}, a rate (recipients): per sender
      tenant-day    key ${tenant}, a calendar day (messages): per tenant
      global-rate   key ${category}, a rate (recipients): every user
                    here has category news, so one counter for every
                    decision, a hot key on one master (a literal key is
                    not allowed; --no-global-limit leaves it out)
    U SASL users (sasl:<user> entries: tenant tenant<u%50>, category news,
    their domains), one in a thousand recipients suppressed in the global
    scope and one in a thousand in its tenant's scope.

    Each round runs every backend, the order reversed every other round
    (the machine is shared: interleaving spreads its noise over both):
      decisions   a load generator process per policyd keeps N policy
                  connections busy for S seconds (one request in flight
                  per connection, as smtpd does), RCPT requests with SASL
                  user, tenant sender, fresh recipients; with client and
                  server ports, so every charge also writes the
                  connection's charge record (refunds on; --no-charge
                  leaves the client port out)
      milter      tests/bench/milter_load -u U: M messages over C
                  connections through the real sluice-milter (no DKIM
                  key: its Redis work only), each its own queue id,
                  recipient, SASL login and client connection, so at end
                  of message: the SASL lookup, the suppression lookup of
                  the recipient in its three scopes, the record (stats:,
                  msg:, rcpts:) and the claim of the connection's charge
                  record, split by slot on the cluster as the milter does
                  it (milter_redis.c)
      feedback    B one-record hard bounces (--bounces), each through its
                  own sluice-feedback process as pipe(8) runs it, each for
                  a message whose recipient record (rcpts:) is in Redis
                  with a genuine token. A sluice-feedback that refuses the
                  backend (a build that cannot use Cluster yet says so at
                  its config check) is reported as such, and the run goes
                  on without it
    Figures per round, backend and phase, each with the load average: the
    rate (decisions/s of all nodes, milter msg/s, bounces/s), Redis CPU
    per unit (INFO cpu, used_cpu_user + sys, summed over the masters),
    the policyd's or milter's CPU per unit, and per unit, summed over the
    masters: commands (INFO commandstats: those run inside scripts count
    too), script calls (EVALSHA/EVAL/FCALL: one per slot group, the
    round trips of a decision or message) and network reads (INFO stats
    total_reads_processed, all connections: fewer than the round trips
    when a client pipelines); per master on the cluster its share of the
    commands, its script calls per second and its CPU per unit. At the end the medians of each backend
    and the ratio cluster/single, and the keys (DBSIZE) and used_memory
    of every master. Before the rounds, each master's idle CPU.
    Figures only, no assertions; the machine's load is printed with every
    round.
"""
import argparse
import multiprocessing
import os
import re
import selectors
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
from benchlib import harness, median  # noqa: E402
from bench_policy import connect  # noqa: E402
import keys  # noqa: E402
import feedback_helpers  # noqa: E402
import token_helpers  # noqa: E402
from test_feedback_effects import dsn, mint  # noqa: E402

TENANTS = 50
BUCKETS = 4096


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def request(i, node, users, no_charge):
    u = i % users
    user = "user%d@tenant%d.example" % (u, u % TENANTS)
    attrs = [("request", "smtpd_access_policy"), ("protocol_state", "RCPT"),
             ("protocol_name", "ESMTP"), ("client_address", "10.%d.%d.%d" % (node, i % 200, i % 7)),
             ("client_port", "" if no_charge else str(20000 + (i // 3) % 40000)),
             ("server_address", "10.0.0.%d" % node),
             ("server_port", "587"), ("client_name", "c.test"), ("helo_name", "c.test"),
             ("queue_id", ""), ("instance", "%x.%x" % (node, i // 3)),
             ("sender", "app@tenant%d.example" % (u % TENANTS)),
             ("recipient", "rcpt%d@dest%d.example" % (i, i % 37)),
             ("recipient_count", "0"), ("size", "2048"), ("sasl_username", user)]
    return "".join("%s=%s\n" % kv for kv in attrs).encode() + b"\n"


def generator(sock, node, first, connections, seconds, users, no_charge, out):
    """Closed loop on N connections for S seconds; puts (answers, answers by action)."""
    sel = selectors.DefaultSelector()
    nxt = [first]
    actions = {}
    conns = []
    for _ in range(connections):
        c = {"s": connect(sock), "buf": b""}
        sel.register(c["s"], selectors.EVENT_READ, c)
        conns.append(c)

    def send(c):
        c["s"].sendall(request(nxt[0], node, users, no_charge))
        nxt[0] += 1

    end = time.perf_counter() + seconds
    done = 0
    for c in conns:
        send(c)
    inflight = len(conns)
    while inflight:
        for key, _ in sel.select(timeout=30):
            c = key.data
            data = c["s"].recv(65536)
            if not data:
                raise ConnectionError("closed")
            c["buf"] += data
            while b"\n\n" in c["buf"]:
                answer, c["buf"] = c["buf"].split(b"\n\n", 1)
                word = answer.decode().split("=", 1)[-1].split(" ")[0]
                actions[word] = actions.get(word, 0) + 1
                done += 1
                inflight -= 1
                if time.perf_counter() < end:
                    send(c)
                    inflight += 1
    out.put((done, actions))


def resp(*args):
    out = ["*%d\r\n" % len(args)]
    for a in args:
        a = str(a)
        out.append("$%d\r\n%s\r\n" % (len(a.encode()), a))
    return "".join(out)


def b36(n):
    s = ""
    while n:
        n, r = divmod(n, 36)
        s = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + s
    return s or "0"


def info(node, section):
    out = {}
    for line in node.cli("INFO", section).split("\n"):
        if ":" in line:
            k, v = line.strip().split(":", 1)
            out[k] = v
    return out


def cpu(node):
    v = info(node, "cpu")
    return float(v["used_cpu_user"]) + float(v["used_cpu_sys"])


# the monitoring commands of this script itself, not counted as the daemons' calls
OWN = re.compile(r"^(info|cluster|config|dbsize|memory|ping|command|client|script)\b")


def calls(node):
    """(commands but our own monitoring, those inside scripts too; EVALSHA + EVAL + FCALL
    calls; network reads processed, all connections)."""
    total = scripts = 0
    for k, v in info(node, "commandstats").items():
        m = re.match(r"cmdstat_(\S+)", k)
        n = re.match(r"calls=(\d+)", v)
        if not m or not n or OWN.match(m.group(1)):
            continue
        total += int(n.group(1))
        if m.group(1) in ("evalsha", "eval", "fcall"):
            scripts += int(n.group(1))
    return total, scripts, int(info(node, "stats")["total_reads_processed"])


class Backend:
    """One Redis deployment with its policyds and its milter."""

    def __init__(self, env, name, args):
        self.env, self.name = env, name
        if name == "single":
            r = env.redis(tcp=True)
            self.masters, self.cluster = [r], None
            self.section = ('redis {\n  host = "127.0.0.1"\n  port = %d\n  prefix = "sluice:"\n'
                            '  connect_timeout = 500\n  command_timeout = 5000\n}\n' % r.port)
        elif name == "unix":
            r = env.redis()
            self.masters, self.cluster = [r], None
            self.section = r.conf_section()
        elif name == "cluster":
            cl = self.cluster = env.cluster()
            self.masters = cl.nodes
            self.section = cl.conf_section()
        else:
            raise ValueError("backend %s: single, unix or cluster" % name)
        self.slots = self.slot_map()
        self.seed(args.users, args.rounds)
        self.policyds = [self.policyd(n, args) for n in range(args.policyds)]
        limits = keys.key("limits")
        want = "2" if args.no_global_limit else "3"
        harness.wait_for(lambda: self.on(limits).cli("SCARD", limits) == want, 30, "limits seeded")
        self.milter, self.msock = self.start_milter()
        self.fbsecret = self.env.secret("%s-fb.key" % name)
        self.fbconf = self.env.file("%s-feedback.conf" % name, self.common("fb", self.fbsecret)
                                    + "feedback {\n  pause_min_sent = 10\n}\n", 0o600)
        # a build of sluice-feedback that cannot use this backend says so at its config check
        r = subprocess.run([harness.program("feedback", "sluice-feedback"), "-n", "-c", self.fbconf],
                           capture_output=True, text=True, timeout=30)
        lines = (r.stdout + r.stderr).strip().splitlines() or ["exit %d" % r.returncode]
        self.feedback_refused = None if r.returncode == 0 else \
            ([x for x in lines if "Cluster" in x] or lines)[-1]
        time.sleep(1.0)                       # every policyd has polled the limits

    def slot_map(self):
        """slot -> master (None for "single": one master serves every slot)."""
        if self.cluster is None:
            return None
        out = [None] * 16384
        for n in self.masters:
            for lo, hi in self.cluster.slot_ranges(n):
                out[lo:hi + 1] = [n] * (hi - lo + 1)
        if None in out:
            raise RuntimeError("CLUSTER NODES: not every slot is served")
        return out

    def on(self, key):
        return self.masters[0] if self.slots is None else self.slots[keys.slot(key)]

    def pipe(self, cmds):
        """Send (key, command...) tuples to the masters that serve them, with redis-cli --pipe."""
        per = {}
        for c in cmds:
            per.setdefault(self.on(c[0]).sock, []).append(resp(*c[1:]))
        for sock, lines in per.items():
            r = subprocess.run(["redis-cli", "-s", sock, "--pipe"], input="".join(lines).encode(),
                               capture_output=True, check=True)
            if b"errors: 0" not in r.stdout:
                raise RuntimeError(r.stdout.decode())

    def seed(self, users, rounds):
        cmds = []
        for u in range(users):
            t = "tenant%d" % (u % TENANTS)
            k = keys.key("sasl", "user%d@%s.example" % (u, t))
            cmds.append((k, "HSET", k, "tenant", t, "category", "news",
                         "domains", "example.com,%s.example" % t))
        value = "h%s::sim" % b36(int(time.time()))
        # recipient i is rcpt<i>@dest<i%37>.example, sent by tenant<i%50> (both loads);
        # one in a thousand suppressed globally, one in a thousand in its tenant's scope
        # (the milter's, below 16 M, are not: milter_load counts a refusal as an error)
        for base in range(16000000, (16 * rounds + 32) * 1000000, 1000000):
            for i in range(base, base + 200000, 1000):
                for j, scope in ((i + 1, "global"), (i + 501, "tenant:tenant%d" % ((i + 501) % TENANTS))):
                    addr = "rcpt%d@dest%d.example" % (j, j % 37)
                    k = keys.suppb(scope, addr, BUCKETS)
                    cmds.append((k, "HSET", k, keys.supp_field(addr), value))
        self.pipe(cmds)

    def common(self, n, secret=None):
        return ('log_level = "warning"\nsecret_file = "%s"\n%s'
                'suppression {\n  layout = "compact"\n  buckets = %d\n}\n'
                % (secret or self.env.secret("%s-k%s" % (self.name, n)), self.section, BUCKETS))

    def policyd(self, n, args):
        sock = os.path.join(self.env.dir, "%s-policyd-%d.sock" % (self.name, n))
        limits = ('  limit "user-rate" { key = \'${sasl_username}\' rate = "1000000/hour" unit = "recipients" }\n'
                  '  limit "tenant-day" { key = \'${tenant}\' window = "day" max = "100000000" }\n')
        if not args.no_global_limit:
            limits += '  limit "global-rate" { key = \'${category}\' rate = "100000000/hour" unit = "recipients" }\n'
        conf = self.env.file("%s-node%d.conf" % (self.name, n), '%spolicyd {\n  listen = { "unix:%s" }\n'
                             '  timeout = 5000\n%s}\n' % (self.common(n), sock, limits), 0o600)
        p = self.env.daemon("%s-policyd-%d" % (self.name, n),
                            [harness.program("policyd", "sluice-policyd"), "-f", "-c", conf],
                            ready=lambda: harness.can_connect(sock), timeout=30)
        return p, sock

    def start_milter(self):
        sock = os.path.join(self.env.dir, "%s-milter.sock" % self.name)
        conf = self.env.file("%s-milter.conf" % self.name, '%sdomain "example.com" {\n'
                             '  default_category = "news"\n}\ncategory "news" { subdomain = "news" }\n'
                             'milter {\n  socket = "unix:%s"\n  socket_mode = "0666"\n}\n'
                             % (self.common(99), sock), 0o600)
        p = self.env.daemon("%s-milter" % self.name, [harness.program("milter", "sluice-milter"),
                                                        "-f", "-c", conf],
                            ready=lambda: harness.can_connect(sock), timeout=30)
        return p, sock

    def feedback(self, args, rnd):
        """--bounces one-record hard bounces through sluice-feedback, a process each (as
        pipe(8) runs it), each for a message the milter recorded; None when refused."""
        if self.feedback_refused:
            return None
        with open(self.fbsecret, "rb") as f:
            secret = f.read().rstrip(b"\n")
        msgs, cmds = [], []
        for i in range(args.bounces):
            msgid = "f%d%06d" % (rnd, i)
            rcpt = "fb%d.%d@dest%d.example" % (rnd, i, i % 37)
            k = keys.key("rcpts", msgid)
            cmds.append((k, "SADD", k, token_helpers.rcpt_hash(secret, msgid, rcpt)))
            cmds.append((k, "EXPIRE", k, 86400))
            tok = mint(secret, msgid=msgid, tenant="tenant%d" % (i % TENANTS)) + "@bounce.example.com"
            msgs.append((dsn(rcpt, token=tok), tok))
        self.pipe(cmds)
        a = self.snapshot([])
        for data, tok in msgs:
            p = feedback_helpers.run_feedback(self.fbconf, data, tok)
            if p.returncode != 0:
                err = p.stderr.decode(errors="replace")
                raise RuntimeError("%s: sluice-feedback exit %d: %s" % (self.name, p.returncode, err))
        b = self.snapshot([])
        d = self.delta(a, b, args.bounces)
        d["rate"] = args.bounces / d["wall"]
        return d

    def snapshot(self, pids):
        return {"cpu": [cpu(m) for m in self.masters], "calls": [calls(m) for m in self.masters],
                "pcpu": sum(benchlib.cpu_seconds(p) for p in pids), "t": time.monotonic()}

    def delta(self, a, b, n):
        """Per-unit figures between two snapshots for n units (decisions or messages)."""
        n = max(1, n)
        per_cpu = [(y - x) / n * 1e6 for x, y in zip(a["cpu"], b["cpu"])]
        per_calls = [[y[i] - x[i] for i in range(3)] for x, y in zip(a["calls"], b["calls"])]
        tot = sum(c[0] for c in per_calls)
        return {"wall": b["t"] - a["t"], "n": n, "redis_us": sum(per_cpu), "master_us": per_cpu,
                "calls": tot / n, "scripts": sum(c[1] for c in per_calls) / n,
                "reads": sum(c[2] for c in per_calls) / n,
                "share": [c[0] / max(1, tot) for c in per_calls],
                "steps": [c[1] / max(1e-9, b["t"] - a["t"]) for c in per_calls],
                "proc_us": (b["pcpu"] - a["pcpu"]) / n * 1e6, "load": load()}

    def decisions(self, args, rnd):
        pids = [p.pid for p, _ in self.policyds]
        q = multiprocessing.Queue()
        gens = [multiprocessing.Process(
            target=generator, args=(sock, n + 1, (16 + rnd * 16 + n) * 1000000, args.connections,
                                    args.seconds, args.users, args.no_charge, q))
            for n, (_, sock) in enumerate(self.policyds)]
        a = self.snapshot(pids)
        for g in gens:
            g.start()
        got = [q.get(timeout=args.seconds + 120) for _ in gens]
        for g in gens:
            g.join()
        b = self.snapshot(pids)
        total = sum(n for n, _ in got)
        actions = {}
        for _, acts in got:
            for k, v in acts.items():
                actions[k] = actions.get(k, 0) + v
        d = self.delta(a, b, total)
        d["rate"] = total / d["wall"]
        d["actions"] = actions
        return d

    def messages(self, args, rnd):
        a = self.snapshot([self.milter.pid])
        r = subprocess.run([os.path.join(harness.BUILDDIR, "tests", "bench", "milter_load"),
                            "-s", self.msock, "-c", str(args.milter_connections),
                            "-n", str(args.messages), "-e", "0", "-w", "0", "-u", str(args.users)],
                           capture_output=True, text=True, timeout=600)
        b = self.snapshot([self.milter.pid])
        if r.returncode != 0:
            raise RuntimeError("%s: milter_load failed:\n%s%s\n%s" % (self.name, r.stdout, r.stderr,
                                                                     self.milter.output()[-3000:]))
        d = self.delta(a, b, args.messages)
        d["rate"] = float(re.search(r"msg_per_s=([\d.]+)", r.stdout).group(1))
        return d

    def keyspace(self):
        return [(int(m.cli("DBSIZE")), int(info(m, "memory")["used_memory"])) for m in self.masters]


def show(kind, name, rnd, d):
    per = ""
    if len(d["master_us"]) > 1:
        per = "  per master: " + ", ".join("%.0f%% of commands, %.0f scripts/s, %.1f us" % (s * 100, n, u)
                                           for s, n, u in zip(d["share"], d["steps"], d["master_us"]))
    proc = {"decision": "policyd %6.1f us" % d["proc_us"], "milter": "milter  %6.1f us" % d["proc_us"]}
    print("round %d %-8s %-9s %7.0f/s  redis %6.1f us  %s  commands %.2f  scripts %.2f  "
          "reads %.2f  load %s%s" % (rnd, kind, name, d["rate"], d["redis_us"],
                                     proc.get(kind, "(a process per bounce)"),
                                     d["calls"], d["scripts"], d["reads"], d["load"], per))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="single,cluster")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policyds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=8, help="per policyd")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--users", type=int, default=1000, help="SASL users (a multiple of 50)")
    ap.add_argument("--messages", type=int, default=5000, help="through the milter, per round")
    ap.add_argument("--milter-connections", type=int, default=8)
    ap.add_argument("--bounces", type=int, default=200,
                    help="one-record bounces through sluice-feedback per round (0: none)")
    ap.add_argument("--no-charge", action="store_true",
                    help="no client_port in the requests: no charge records (refunds off)")
    ap.add_argument("--no-global-limit", action="store_true")
    ap.add_argument("--idle", type=float, default=2.0, help="seconds of idle CPU measured first")
    a = ap.parse_args()
    if a.users < TENANTS or a.users % TENANTS:
        ap.error("--users must be a multiple of %d" % TENANTS)
    env = harness.Env("sim-scaleout")
    try:
        backends = [Backend(env, name, a) for name in a.backends.split(",")]
        print("sim_scaleout: %s; %d policyds x %d connections, %g s; %d SASL users; milter %d "
              "messages x %d connections; %s; %s" % (
                  ", ".join(b.name for b in backends), a.policyds, a.connections, a.seconds, a.users,
                  a.messages, a.milter_connections,
                  "limits user-rate, tenant-day" + ("" if a.no_global_limit else ", global-rate")
                  + ("" if a.no_charge else ", charge records"), benchlib.stamp()))
        for b in backends:
            x = [cpu(m) for m in b.masters]
            time.sleep(a.idle)
            print("idle: %s masters use %s ms of CPU per second (cron, cluster bus, the policyds' polls)"
                  % (b.name, ", ".join("%.1f" % ((cpu(m) - c) / a.idle * 1e3) for m, c in zip(b.masters, x))))
        res = {b.name: {"decision": [], "milter": [], "feedback": []} for b in backends}
        for rnd in range(a.rounds):
            for b in (backends if rnd % 2 == 0 else backends[::-1]):
                d = b.decisions(a, rnd)
                res[b.name]["decision"].append(d)
                show("decision", b.name, rnd, d)
                m = b.messages(a, rnd)
                res[b.name]["milter"].append(m)
                show("milter", b.name, rnd, m)
                f = b.feedback(a, rnd) if a.bounces else None
                if f is not None:
                    res[b.name]["feedback"].append(f)
                    show("feedback", b.name, rnd, f)
        for b in backends:
            print("\n%s: redis calls by command (all rounds):" % b.name)
            for m in b.masters:
                print("  " + ", ".join("%s %s" % (k[8:], re.match(r"calls=(\d+)", v).group(1))
                                       for k, v in sorted(info(m, "commandstats").items())))
        print("\nanswers (last round): " + "; ".join(
            "%s %s" % (b.name, res[b.name]["decision"][-1]["actions"]) for b in backends))
        for b in backends:      # log_level warning: a failed decision or record would show here
            lines = [x for p in [p for p, _ in b.policyds] + [b.milter] for x in p.output().splitlines()
                     if "error" in x or "warning" in x]
            print("%s: %d warning or error lines in the daemons' output%s"
                  % (b.name, len(lines), "".join("\n  " + x for x in lines[:5])))
        print("\nmedians of %d rounds (%s)" % (a.rounds, benchlib.stamp()))
        rows = []
        for kind, what in (("decision", "decisions"), ("milter", "milter messages"),
                           ("feedback", "bounces")):
            if not any(res[b.name][kind] for b in backends):
                continue
            for field, label in (("rate", "%s/s" % what), ("redis_us", "redis CPU us per %s" % kind),
                                 ("proc_us", "%s CPU us per %s" % ("policyd" if kind == "decision"
                                                                    else "milter", kind)),
                                 ("calls", "redis commands per %s (in scripts too)" % kind),
                                 ("scripts", "script calls per %s (slot groups)" % kind),
                                 ("reads", "redis network reads per %s" % kind)):
                if kind == "feedback" and field == "proc_us":
                    continue
                vals = [median([d[field] for d in res[b.name][kind]]) for b in backends]
                ratio = "%.2f" % (vals[-1] / vals[0]) if len(vals) > 1 and vals[0] == vals[0] \
                    and vals[-1] == vals[-1] and vals[0] else "-"
                rows.append([label] + ["-" if v != v else "%.2f" % v if field in ("calls", "scripts", "reads")
                                       else "%.1f" % v for v in vals] + ([ratio] if len(vals) > 1 else []))
        benchlib.table(rows, ["figure"] + [b.name for b in backends]
                       + (["%s/%s" % (backends[-1].name, backends[0].name)] if len(backends) > 1 else []))
        for b in backends:
            if b.feedback_refused:
                print("feedback on %s: not measured, sluice-feedback refused it: %s"
                      % (b.name, b.feedback_refused))
        for b in backends:
            if len(b.masters) > 1:
                print("\n%s per master (medians): " % b.name)
                rows = []
                for i, m in enumerate(b.masters):
                    rows.append(["master %d (port %d)" % (i, m.port)]
                                + ["%.0f%%" % (100 * median([d["share"][i] for d in res[b.name][k]]))
                                   for k in ("decision", "milter")]
                                + ["%.0f" % median([d["steps"][i] for d in res[b.name][k]])
                                   for k in ("decision", "milter")]
                                + ["%.1f" % median([d["master_us"][i] for d in res[b.name][k]])
                                   for k in ("decision", "milter")])
                benchlib.table(rows, ["master", "decision commands", "milter commands",
                                      "decision scripts/s", "milter scripts/s",
                                      "redis us/decision", "redis us/message"])
        print("\nkeys and memory at the end")
        rows = []
        for b in backends:
            for i, (n, mem) in enumerate(b.keyspace()):
                rows.append([b.name, i, n, mem])
        benchlib.table(rows, ["backend", "master", "keys (DBSIZE)", "used_memory"])
    finally:
        env.close()


if __name__ == "__main__":
    main()
