"""
NAME
    test_milter_load - the C milter load client (tests/bench/milter_load)
    against a real sluice-milter, so the benchmark keeps working

DESCRIPTION
    A tiny run of what bench_milter.py measures: sluice-milter with an
    RSA-2048 and an Ed25519 key for the From domain (redis = false), and
    milter_load sending 50 messages over 4 connections, 2 KB and 50 KB
    bodies. Every message must end with continue and carry both
    DKIM-Signature fields (the client checks and exits 1 otherwise); the
    printed figures must be there. A client expecting a third signature
    must fail, so the check cannot pass by accident. No timing is asserted.

    What sluice-milter negotiates with an MTA offering everything (as
    Postfix does): no reply for connect, RCPT, headers and body chunks; a
    reply for MAIL, end of header and end of message (they can refuse);
    HELO, DATA and unknown commands not sent; only the macros it reads.

    The keys are shared by all the milter's threads (one EVP_PKEY per key
    and config snapshot): 8 connections at once, 10 messages each, every
    RSA and Ed25519 signature verified with dkimpy.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import threading

import harness
import milter_helpers

CONF = """
secret_file = "%(secret)s"
domain "example.com" {
  default_category = "transactional"
  dkim "r1" { algorithm = "rsa-sha256" key = "%(rsa)s" }
  dkim "e1" { algorithm = "ed25519-sha256" key = "%(ed)s" }
}
category "transactional" { }
milter { socket = "{socket}" socket_mode = "0666" redis = false stats = false }
"""


def load_client():
    return os.path.join(harness.BUILDDIR, "tests", "bench", "milter_load")


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import benchlib  # noqa: E402

MACROS = {b"C": {"j": "mta.sluice.test"}, b"M": {"i": "LOAD0001"}, b"E": {"i": "LOAD0001"}}


def signed_message(sock, n):
    """One message through the milter over a connection of its own; the message as delivered."""
    c = benchlib.MilterClient(sock, macros=MACROS)
    headers, body = benchlib.sample_message(n)
    reply, mods = c.send_message("app@example.com", ["rcpt%d@dest.example" % n], headers, body)
    c.close()
    assert reply == b"c", (reply, mods)
    final = list(headers)
    for cmd, data in mods:
        if cmd == b"i":
            name, value = data[4:].split(b"\0")[:2]
            final.insert(int.from_bytes(data[:4], "big"), (name.decode(), value.decode()))
        elif cmd == b"h":
            name, value = data.split(b"\0")[:2]
            final.append((name.decode(), value.decode()))
    return "".join("%s: %s\r\n" % (k, v.replace("\n", "\r\n")) for k, v in final).encode() + b"\r\n" + body


def run(sock, pid, *args):
    return subprocess.run([load_client(), "-s", sock, "-p", str(pid)] + list(args),
                          capture_output=True, text=True, timeout=300)


def start(env):
    """sluice-milter with both keys; (proc, socket path, DNS records)."""
    rsa, rsa_txt = harness.dkim_keypair(env, "load", "rsa")
    ed, ed_txt = harness.dkim_keypair(env, "load", "ed25519")
    conf, sock = milter_helpers.write_conf(env, CONF % {"secret": env.secret(), "rsa": rsa, "ed": ed})
    proc, _ = milter_helpers.start_milter(env, conf, sock)
    return proc, sock, {"r1._domainkey.example.com": rsa_txt, "e1._domainkey.example.com": ed_txt}


def test_negotiates_no_reply_steps_and_macros(env):
    proc, sock, _ = start(env)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(struct.pack("!IcIII", 13, b"O", 6, benchlib.ACTIONS_OFFER, benchlib.PROTO_OFFER))
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack("!I", data[:4])[0]:
        chunk = s.recv(4096)
        assert chunk, "no negotiation reply"
        data += chunk
    s.close()
    n = struct.unpack("!I", data[:4])[0]
    assert data[4:5] == b"O"
    _, actions, proto = struct.unpack("!III", data[5:17])
    # HELO is sent (inbound SPF checks the HELO name) but never answered
    no_reply = {"conn": 0x1000, "helo": 0x2000, "rcpt": 0x8000, "hdr": 0x80, "body": 0x80000}
    reply = {"mail": 0x4000, "eoh": 0x40000}
    skipped = {"data": 0x200, "unknown": 0x100}
    assert all(proto & bit for bit in no_reply.values()), hex(proto)
    assert not any(proto & bit for bit in reply.values()), hex(proto)
    assert all(proto & bit for bit in skipped.values()), hex(proto)
    assert actions & 0x100, "macro lists (SMFIF_SETSYMLIST) not asked for"
    lists, o, rest = {}, 0, data[17:4 + n]
    while o + 4 < len(rest):
        stage = struct.unpack("!I", rest[o:o + 4])[0]
        end = rest.index(b"\0", o + 4)
        lists[stage] = rest[o + 4:end].decode()
        o = end + 1
    assert lists.get(2) == "i {auth_authen}" and lists.get(6) == "i" and lists.get(5) == "i", lists
    # the connection's four-tuple names its limit charge record (limit refunds)
    assert lists.get(0) == "{client_addr} {client_port} {daemon_addr} {daemon_port}", lists
    assert lists.get(3) == "", lists


def test_shared_keys_sign_right_from_many_threads(env):
    proc, sock, records = start(env)
    raws, errors = [], []

    def worker(k):
        try:
            for i in range(10):
                raws.append(signed_message(sock, 100 * k + i))
        except Exception as e:  # reported below, with the others
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(raws) == 80
    for raw in raws:
        res = milter_helpers.dkim_results(raw, records)
        assert sorted(r[2] for r in res) == ["ed25519-sha256", "rsa-sha256"], res
        assert all(r[3] for r in res), res


def test_load_client_against_sluice(env):
    proc, sock, _ = start(env)
    for size in ("2048", "51200"):
        r = run(sock, proc.pid, "-n", "50", "-c", "4", "-b", size, "-e", "2")
        print(r.stdout.strip())
        assert r.returncode == 0, r.stdout + r.stderr
        m = re.search(r"messages=50 body_bytes=%s .*msg_per_s=([\d.]+) server_cpu_us_per_msg=(\d+) "
                      r".*signatures=100 errors=0" % size, r.stdout)
        assert m, r.stdout
        assert float(m.group(1)) > 0 and int(m.group(2)) >= 0
    r = run(sock, proc.pid, "-n", "4", "-c", "1", "-e", "3")
    assert r.returncode == 1 and "2 DKIM-Signature fields, want 3" in r.stderr, r.stdout + r.stderr
    assert proc.alive()
