#!/usr/bin/python3
"""
NAME
    bench_logd - sluice-logd: Postfix log lines per second on one core

SYNOPSIS
    tests/bench/bench_logd.py [--messages N] [--rounds R]

DESCRIPTION
    Writes a synthetic maillog_file in Postfix 3.7's shape: per message
    smtpd connect/client/disconnect noise, cleanup message-id, qmgr from=,
    two smtp delivery lines (one sent, one deferred with a 4.7.28 Google
    reply of ~600 bytes), qmgr removed: 9 lines, 2 events. Then, pinned to
    CPU 0 (taskset):
      parse   sluice-logd --parse FILE > /dev/null (parser, correlation,
              providers, JSON), lines/s of wall time;
      daemon  sluice-logd -f following the file from offset 0 (a state
              file says so) into a throwaway redis-server (also on CPU 0:
              the two share one core), every message with a msg: record,
              timed until the last event is counted in Redis.
    Prints the median of R rounds of each.

    Needs a built tree (SLUICE_BUILDDIR, default ./build), redis-server,
    taskset (util-linux).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import keys  # noqa: E402  (the key names, tests/integration/keys.py)

BUILD = os.environ.get("SLUICE_BUILDDIR", "build")
LOGD = os.path.join(BUILD, "logd", "sluice-logd")
REPLY = ("host gmail-smtp-in.l.google.com[142.250.1.26] said: 421-4.7.28 [192.0.2.1 15] Our "
         "system has detected an unusual rate of 421-4.7.28 unsolicited mail originating from "
         "your IP address. To protect our 421-4.7.28 users from spam, mail sent from your IP "
         "address has been temporarily 421-4.7.28 rate limited. Please visit 421-4.7.28  "
         "https://support.google.com/mail/?p=UnsolicitedRateLimitError to 421 4.7.28 review "
         "our Bulk Email Senders Guidelines. a1si2 - gsmtp (in reply to end of DATA command)")


def qid(i):
    return "4Q%010X" % i


def write_log(path, n):
    with open(path, "w") as f:
        for i in range(n):
            q, s = qid(i), "Dec 03 12:%02d:%02d" % (i // 60 % 60, i % 60)
            f.write("%s mta postfix/smtpd[100]: connect from c[192.0.2.9]\n" % s)
            f.write("%s mta postfix/smtpd[100]: %s: client=c[192.0.2.9], sasl_method=PLAIN, "
                    "sasl_username=alice\n" % (s, q))
            f.write("%s mta postfix/cleanup[101]: %s: message-id=<%d@shop.example>\n" % (s, q, i))
            f.write("%s mta postfix/qmgr[102]: %s: from=<b1-abcdefgh%d@news.shop.example>, "
                    "size=4242, nrcpt=2 (queue active)\n" % (s, q, i))
            f.write("%s mta postfix/smtpd[100]: disconnect from c[192.0.2.9] ehlo=1 auth=1 "
                    "mail=1 rcpt=2 data=1 quit=1 commands=7\n" % s)
            f.write("%s mta postfix/smtp[103]: %s: to=<u%d@example.net>, relay=mx.example.net"
                    "[198.51.100.7]:25, delay=0.4, delays=0.01/0.01/0.2/0.18, dsn=2.0.0, "
                    "status=sent (250 2.0.0 Ok: queued as 4ABC%d)\n" % (s, q, i, i))
            f.write("%s mta postfix/smtp[104]: %s: to=<g%d@gmail.com>, relay=gmail-smtp-in.l."
                    "google.com[142.250.1.26]:25, delay=1.1, delays=0.01/0.01/0.5/0.58, "
                    "dsn=4.7.28, status=deferred (%s)\n" % (s, q, i, REPLY))
            f.write("%s mta postfix/qmgr[102]: %s: removed\n" % (s, q))
            f.write("%s mta postfix/anvil[105]: statistics: max connection rate 1/60s\n" % s)
    return 9 * n


def bench_parse(path, lines):
    t0 = time.monotonic()
    with open(os.devnull, "w") as null:
        subprocess.run(["taskset", "-c", "0", LOGD, "--parse", path], stdout=null,
                       stderr=subprocess.DEVNULL, check=True)
    return lines / (time.monotonic() - t0)


def redis_cli(sock, *args, stdin=None):
    return subprocess.run(["redis-cli", "-s", sock] + list(args), input=stdin,
                          capture_output=True, text=True, check=True).stdout.strip()


def bench_daemon(tmp, path, lines, n):
    sock = os.path.join(tmp, "r.sock")
    redis = subprocess.Popen(["taskset", "-c", "0", "redis-server", "--port", "0",
                              "--unixsocket", sock, "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL)
    try:
        while not os.path.exists(sock):
            time.sleep(0.05)
        time.sleep(0.2)
        cmds = "".join("HSET %s tenant shop category news sasl alice msgid m%d\n"
                       % (keys.key("msg", qid(i)), i) for i in range(n))
        redis_cli(sock, stdin=cmds)
        state = os.path.join(tmp, "state")
        with open(state, "w") as f:
            f.write("%d 0\n" % os.stat(path).st_ino)
        conf = os.path.join(tmp, "c.conf")
        with open(conf, "w") as f:
            f.write('redis { socket = "%s" }\nlogd { log_file = "%s" state_file = "%s" '
                    'events_maxlen = 1000000 buffer_max = 1000000 block_threshold = 1000 }\n'
                    % (sock, path, state))
        day = time.strftime("%Y%m%d", time.gmtime())
        t0 = time.monotonic()
        logd = subprocess.Popen(["taskset", "-c", "0", LOGD, "-f", "-c", conf],
                                stderr=subprocess.DEVNULL)
        key = keys.key("stats", day, "shop", "news")
        while True:
            got = redis_cli(sock, "HMGET", key, "delivered", "deferred").split("\n")
            if all(g.isdigit() for g in got) and sum(map(int, got)) >= 2 * n:
                break
            time.sleep(0.02)
        dt = time.monotonic() - t0
        logd.terminate()
        logd.wait()
        return lines / dt
    finally:
        redis.terminate()
        redis.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not os.access(LOGD, os.X_OK):
        sys.exit("no %s: build first (SLUICE_BUILDDIR)" % LOGD)
    tmp = tempfile.mkdtemp(prefix="bench-logd-")
    try:
        path = os.path.join(tmp, "maillog")
        lines = write_log(path, a.messages)
        print("%d messages, %d lines, %.1f MB" % (a.messages, lines, os.path.getsize(path) / 1e6))
        parse = [bench_parse(path, lines) for _ in range(a.rounds)]
        print("parse   lines/s per round:", " ".join("%.0f" % x for x in parse))
        daemon = []
        for r in range(a.rounds):
            d = os.path.join(tmp, "d%d" % r)
            os.mkdir(d)
            daemon.append(bench_daemon(d, path, lines, a.messages))
        print("daemon  lines/s per round:", " ".join("%.0f" % x for x in daemon))
        print("median: parse %.0f lines/s, daemon with Redis %.0f lines/s (%.0f events/s), "
              "one core" % (statistics.median(parse), statistics.median(daemon),
                            statistics.median(daemon) * 2 / 9))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
