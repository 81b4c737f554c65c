#!/usr/bin/python3
"""
NAME
    bench_capacity - Redis memory per suppressed address, limit key, message and charge record

SYNOPSIS
    /usr/bin/python3 tests/bench/bench_capacity.py [-n ADDRESSES] [--records N] [--bits B]

DESCRIPTION
    Starts a throwaway redis-server (unix socket in a temp dir, no
    persistence, stopped by pid) and, for each layout or record, prints
    used_memory before and after writing it and the bytes per item:

      supp-hash     today's layout: one hash supp:global:<address> per
                    address, with the fields sluicectl suppress import
                    writes (reason, source, added)
      supp-compact  the bucketed layout of lib/supp_compact.lua (Redis 7
                    functions): entries as fields of small hashes kept as
                    listpacks, written with FCALL sluice_supp_put;
                    checked afterwards with FCALL sluice_supp_get
      supp-import   the same layout written as an importer would: bucket
                    and value computed by the client (SHA-1 here in
                    Python), one HSET per address; read back with FCALL
      rate, quota   a limit counter per key (policyd's GCRA hash with its
                    PEXPIRE; a calendar window's integer with EXPIREAT)
      msg-record    what sluice-milter writes per message for sluice-logd:
                    the msg:<qid> hash (7-day TTL)
      rcpts-record  its recipient record for sluice-feedback: the
                    rcpts:<msgid> set, one recipient hash (31-day TTL)
      charge        a charge record of one transaction in flight (two
                    recipients, three limits)

    Writes go through redis-cli --pipe (what an importer does); the time
    of each import is printed too. Figures only, no assertions.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import keys  # noqa: E402  (the key names, tests/integration/keys.py)

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "..", "..", "lib", "supp_compact.lua")


def resp(*args):
    out = ["*%d\r\n" % len(args)]
    for a in args:
        a = str(a)
        out.append("$%d\r\n%s\r\n" % (len(a.encode()), a))
    return "".join(out)


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench-capacity-")
        self.sock = os.path.join(self.dir, "redis.sock")
        self.proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", self.sock,
                                      "--save", "", "--appendonly", "no", "--dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-s", self.sock, "--raw"] + [str(a) for a in args],
                              capture_output=True, text=True, check=True).stdout.rstrip("\n")

    def pipe(self, commands):
        t0 = time.monotonic()
        r = subprocess.run(["redis-cli", "-s", self.sock, "--pipe"], input=commands.encode(),
                           capture_output=True, check=True)
        if b"errors: 0" not in r.stdout:
            raise RuntimeError(r.stdout.decode())
        return time.monotonic() - t0

    def used(self):
        for line in self.cli("INFO", "memory").split("\n"):
            if line.startswith("used_memory:"):
                return int(line.split(":")[1])
        raise RuntimeError("no used_memory")

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def address(i):
    """Addresses of realistic length (24-31 bytes), spread over 997 domains."""
    return "user%07d.x@mail%03d.example.com" % (i, i % 997)


def measure(srv, name, n, commands, unit):
    srv.cli("FLUSHALL")
    before = srv.used()
    secs = srv.pipe(commands)
    after = srv.used()
    print("%-13s %10d %-9s used_memory before %11d after %11d  %6.1f bytes/%s  written in %5.1f s"
          % (name, n, unit + ("es" if unit.endswith("s") else "s"), before, after, (after - before) / n, unit, secs))
    sys.stdout.flush()
    return (after - before) / n


def supp_hash(n, now):
    return "".join(resp("HSET", keys.supp("global", address(i)), "reason", "import",
                        "source", "list.csv", "added", now) for i in range(n))


def supp_compact(n, now):
    return "".join(resp("FCALL", "sluice_supp_put", 0, address(i), "import", now, 0, "list.csv")
                   for i in range(n))


def b36(n):
    s = ""
    while True:
        n, d = divmod(n, 36)
        s = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + s
        if n == 0:
            return s


def supp_import(n, now, buckets):
    import hashlib
    out = []
    value = "i%s::list.csv" % b36(now)
    for i in range(n):
        f = address(i)
        b = int(hashlib.sha1(f.encode()).hexdigest()[:8], 16) % buckets
        out.append(resp("HSET", "sluice:suppb:global:%d" % b, f, value))
    return "".join(out)


def rate(n, now):
    def k(i):
        return keys.key("rate", "hourly", "user%07d@shop%03d.example" % (i, i % 97))
    return "".join(resp("HSET", k(i), "level", "3.5138", "ts", now * 1000 + 123)
                   + resp("PEXPIRE", k(i), 126000) for i in range(n))


def quota(n, now):
    def k(i):
        return keys.key("quota", "daily", "20261203", "user%07d@shop%03d.example" % (i, i % 97))
    return "".join(resp("SET", k(i), 17) + resp("EXPIREAT", k(i), now + 90000) for i in range(n))


def message(n, now):
    """msg:<qid> as sluice-milter writes it (read by sluice-logd), 7-day TTL."""
    out = []
    for i in range(n):
        qid, mid = "4PQR%09dZ" % i, "m%07d" % i
        out.append(resp("HSET", keys.key("msg", qid), "category", "news", "tenant", "shop1",
                        "sasl", "alice@shop1.example", "sender",
                        "b2a-news-shop1-g1i-%s-6kem6rxivxg4@news.example.com" % mid, "msgid", mid))
        out.append(resp("EXPIRE", keys.key("msg", qid), 604800))
    return "".join(out)


def rcpts(n, now):
    """rcpts:<msgid> of a one-recipient message (token lifetime + 1 day)."""
    return "".join(resp("SADD", keys.key("rcpts", "m%07d" % i), "%016x" % (i * 7919))
                   + resp("EXPIRE", keys.key("rcpts", "m%07d" % i), 31 * 86400) for i in range(n))


def charge(n, now):
    out = []
    for i in range(n):
        key = keys.key("charge", "192.0.2.%d/%d,192.0.2.1/587" % (i % 250, 20000 + i))
        rc = "w 1 100000 %s %s\nr 1 36000 %s %s\n" % (
            keys.key("rulestats", "rcpts"), keys.key("quota", "rcpts", "20261203", "alice"),
            keys.key("rulestats", "hourly"), keys.key("rate", "hourly", "alice"))
        m = "w 1 100000 %s %s\n" % (keys.key("rulestats", "msgs"), keys.key("quota", "msgs", "20261203", "alice"))
        out.append(resp("HSET", key, "instance", "3788.6b117fde.%x.0" % i, "m", m,
                        "r:bob%d@example.net" % i, rc, "r:carol%d@example.org" % i, rc))
        out.append(resp("EXPIRE", key, 3600))
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000000, help="suppressed addresses (default 1M)")
    ap.add_argument("--records", type=int, default=100000, help="limit keys, messages, charges")
    ap.add_argument("--buckets", type=int, default=4096, help="buckets of the compact layout")
    ap.add_argument("--only-supp", action="store_true", help="the two suppression layouts only")
    a = ap.parse_args()
    now = int(time.time())
    srv = Server()
    try:
        version = srv.cli("INFO", "server").split("redis_version:")[1].split("\n")[0].strip()
        print("bench_capacity: redis %s, %s UTC, listpack limits %s" % (
            version, time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            " ".join(srv.cli("CONFIG", "GET", "hash-max-listpack-*").split("\n"))))
        with open(LUA) as f:
            lib = f.read().replace("local BUCKETS = 4096", "local BUCKETS = %d" % a.buckets)
        srv.cli("FUNCTION", "LOAD", "REPLACE", lib)
        measure(srv, "supp-hash", a.n, supp_hash(a.n, now), "address")
        measure(srv, "supp-compact", a.n, supp_compact(a.n, now), "address")
        enc = {}
        for k in srv.cli("SCAN", 0, "COUNT", 2000).split("\n")[1:]:
            e = srv.cli("OBJECT", "ENCODING", k)
            enc[e] = enc.get(e, 0) + 1
        print("              buckets %d, encodings sampled: %s, lookups: %s, %s"
              % (int(srv.cli("DBSIZE")), enc,
                 srv.cli("FCALL", "sluice_supp_get", 0, address(a.n // 2)).replace("\n", " "),
                 srv.cli("FCALL", "sluice_supp_get", 0, "nobody@example.com") or "(nil)"))
        measure(srv, "supp-import", a.n, supp_import(a.n, now, a.buckets), "address")
        print("              lookup of the same entry with FCALL: %s"
              % srv.cli("FCALL", "sluice_supp_get", 0, address(a.n // 2)).replace("\n", " "))
        if a.only_supp:
            return
        measure(srv, "rate", a.records, rate(a.records, now), "key")
        measure(srv, "quota", a.records, quota(a.records, now), "key")
        measure(srv, "msg-record", a.records, message(a.records, now), "message")
        measure(srv, "rcpts-record", a.records, rcpts(a.records, now), "message")
        measure(srv, "charge", a.records, charge(a.records, now), "record")
    finally:
        srv.close()


if __name__ == "__main__":
    main()
