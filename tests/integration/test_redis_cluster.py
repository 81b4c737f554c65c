"""
NAME
    test_redis_cluster - sluicectl on a real 3-master Redis Cluster

DESCRIPTION
    A 3-master cluster started by the test (harness.Cluster:
    redis-server --cluster-enabled yes x3, redis-cli --cluster create).
    sluicectl's one-key commands (suppress add, check --scope, remove)
    go to the master of the key's slot; during a hand-made slot
    migration an ASK redirect is followed (ASKING + retry); during a
    redis-cli --cluster reshard under load nothing fails and every
    entry ends up readable on its owner. sluice-policyd, sluice-milter
    and sluice-feedback refuse cluster_nodes at start with a clear
    message (their scripts read keys of several slots:
    doc/redis-keys.md, "Cluster hash tags").
"""
import subprocess
import threading

import harness
import keys


def ctl(conf, *args):
    return subprocess.run([harness.program("ctl", "sluicectl"), "-c", conf] + list(args),
                          capture_output=True, text=True, timeout=60)


def key(addr):
    return keys.supp("global", addr)


def start_cluster(env):
    cl = env.cluster()
    conf = env.file("ctl.conf", 'secret_file = "%s"\n%s' % (env.secret(), cl.conf_section()))
    return cl, conf


def test_sluicectl_one_key_commands_go_to_the_slot_owner(root_env):
    cl, conf = start_cluster(root_env)
    addrs = ["u%d@dest.test" % i for i in range(24)]
    for a in addrs:
        r = ctl(conf, "suppress", "add", "--reason", "complaint", a)
        assert r.returncode == 0, r.stderr
    owners = {cl.owner(key(a)).port for a in addrs}
    assert len(owners) == 3, "24 keys should spread over the 3 masters"
    for a in addrs:
        assert cl.owner(key(a)).cli("HGET", key(a), "reason") == "complaint"
        r = ctl(conf, "suppress", "check", "--scope", "global", a)
        assert r.returncode == 0 and "complaint" in r.stdout, (r.stdout, r.stderr)
    r = ctl(conf, "suppress", "remove", "--scope", "global", addrs[0])
    assert r.returncode == 0, r.stderr
    assert cl.owner(key(addrs[0])).cli("EXISTS", key(addrs[0])) == "0"


def test_ask_during_a_slot_migration(root_env):
    cl, conf = start_cluster(root_env)
    a = "moving@dest.test"
    assert ctl(conf, "suppress", "add", a).returncode == 0
    slot = cl.keyslot(key(a))
    src = cl.owner(key(a))
    dst = next(n for n in cl.nodes if n is not src)
    dst.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", cl.node_id(src))
    src.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", cl.node_id(dst))
    src.cli("MIGRATE", "127.0.0.1", dst.port, key(a), 0, 5000)
    assert src.cli("CLUSTER", "COUNTKEYSINSLOT", slot) == "0"
    assert dst.cli("CLUSTER", "COUNTKEYSINSLOT", slot) == "1"
    assert src.cli("EXISTS", key(a)).startswith("ASK ")
    # the key now lives on dst, the slot still on src: src answers ASK
    r = ctl(conf, "suppress", "check", "--scope", "global", a)
    assert r.returncode == 0 and "manual" in r.stdout, (r.stdout, r.stderr)
    # a new key of a migrating slot is created on the importing node
    # keys.slot: the cluster's hash of the name's tag (the address)
    same_slot = next("n%d@dest.test" % i for i in range(2000000)
                     if keys.slot(key("n%d@dest.test" % i)) == slot)
    assert cl.keyslot(key(same_slot)) == slot
    assert ctl(conf, "suppress", "add", same_slot).returncode == 0
    assert src.cli("CLUSTER", "COUNTKEYSINSLOT", slot) == "0"
    assert dst.cli("CLUSTER", "COUNTKEYSINSLOT", slot) == "2"
    for n in cl.nodes:
        n.cli("CLUSTER", "SETSLOT", slot, "NODE", cl.node_id(dst))
    harness.wait_for(lambda: cl.owner(key(a)) is dst, 10, "slot owned by the destination")
    assert dst.cli("EXISTS", key(same_slot)) == "1"
    r = ctl(conf, "suppress", "check", "--scope", "global", a)
    assert r.returncode == 0 and "manual" in r.stdout, (r.stdout, r.stderr)


def test_reshard_under_load(root_env):
    cl, conf = start_cluster(root_env)
    results = []

    def load():
        for i in range(150):
            r = ctl(conf, "suppress", "add", "r%d@dest.test" % i)
            results.append((i, r.returncode, r.stderr))

    t = threading.Thread(target=load)
    t.start()
    harness.wait_for(lambda: len(results) >= 10, 60, "some writes before the reshard")
    src, dst = cl.nodes[0], cl.nodes[1]
    r = subprocess.run(["redis-cli", "--cluster", "reshard", "127.0.0.1:%d" % src.port,
                        "--cluster-from", cl.node_id(src), "--cluster-to", cl.node_id(dst),
                        "--cluster-slots", "1500", "--cluster-yes"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    t.join(300)
    failed = [x for x in results if x[1] != 0]
    assert not failed, failed[:5]
    assert len(results) == 150
    for i in range(150):
        k = key("r%d@dest.test" % i)
        assert cl.owner(k).cli("EXISTS", k) == "1", k


def test_daemons_refuse_cluster(root_env):
    """policyd, milter and feedback say at start why they cannot use the cluster yet."""
    env = root_env
    cl = env.cluster()
    path = env.file("sluice.conf", 'secret_file = "%s"\n%spolicyd {\n  listen = { "unix:%s/p.sock" }\n}\n'
                    % (env.secret(), cl.conf_section(), env.dir), 0o600)
    for part, prog, why in (("policyd", "sluice-policyd", "reads keys of several slots"),
                            ("milter", "sluice-milter", "read keys of several slots"),
                            ("feedback", "sluice-feedback", "does not declare its keys")):
        r = subprocess.run([harness.program(part, prog), "-n", "-c", path],
                           capture_output=True, text=True, timeout=30)
        out = r.stdout + r.stderr
        assert r.returncode != 0, (prog, out)
        assert "%s cannot use Redis Cluster yet" % prog in out and why in out, (prog, out)
    # sluicectl, with the same file, works
    r = subprocess.run([harness.program("ctl", "sluicectl"), "-c", path, "suppress", "add", "x@dest.test"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
