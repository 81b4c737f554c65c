"""
NAME
    test_config_example - contrib/sluice.conf.example stays valid for every program

DESCRIPTION
    The example's key and secret paths are pointed at private files in a
    temp dir (the rest is as shipped), then each program checks it with -n.
    A broken line added to it makes every program fail with file:line.
"""
import os
import re
import subprocess

import harness

EXAMPLE = os.path.join(harness.SRCDIR, "contrib", "sluice.conf.example")
PROGRAMS = [("milter", "sluice-milter"), ("policyd", "sluice-policyd"),
            ("feedback", "sluice-feedback"), ("logd", "sluice-logd"), ("ctl", "sluicectl")]


def localized(env):
    """The example with its /etc/sluice files replaced by private temp files."""
    text = open(EXAMPLE).read()
    for path in sorted(set(re.findall(r'"(/etc/sluice/[^"]+)"', text))):
        if path.endswith(".pem"):
            algo = "ed25519" if "ed25519" in text.split(path)[0].rsplit("algorithm", 1)[-1] else "rsa"
            local, _ = harness.dkim_keypair(env, os.path.basename(path)[:-4], algo)
        else:
            local = env.secret(os.path.basename(path))
        text = text.replace('"%s"' % path, '"%s"' % local)
    text = text.replace('user = "sluice"', 'user = ""', 1)
    # the runtime check wants the socket directory to exist (conf_check.c)
    sockets = os.path.join(env.dir, "spool-sluice")
    os.makedirs(sockets, mode=0o750, exist_ok=True)
    text = text.replace("/var/spool/postfix/sluice/", sockets + "/")
    return text


def check(conf, part, name):
    return subprocess.run([harness.program(part, name), "-n", "-c", conf],
                          capture_output=True, text=True, timeout=30)


def test_example_is_valid_for_every_program(env):
    conf = env.file("sluice.conf", localized(env), 0o600)
    for part, name in PROGRAMS:
        r = check(conf, part, name)
        assert r.returncode == 0, "%s -n: %s%s" % (name, r.stdout, r.stderr)


def test_broken_line_reported_with_file_and_line(env):
    text = localized(env)
    lines = text.splitlines()
    at = next(i for i, l in enumerate(lines) if l.startswith("category \"notification\""))
    lines.insert(at, 'category "Bad Name" { subdomain = "x" }')
    conf = env.file("broken.conf", "\n".join(lines) + "\n", 0o600)
    for part, name in PROGRAMS:
        r = check(conf, part, name)
        assert r.returncode != 0, name
        assert "broken.conf:%d:" % (at + 1) in r.stderr + r.stdout, (name, r.stderr)
