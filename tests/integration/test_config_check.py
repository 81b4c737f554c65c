"""
NAME
    test_config_check - one complete check: every program says the same, at the right lines

DESCRIPTION
    The same broken file is checked by each daemon's -n and by sluicectl
    check: every one of them exits 78 and reports the same set of errors
    (syntax and semantic, of every section), each at its own line. The
    runtime preconditions are refused before start: a service user that
    does not exist, a key or the file itself that the service user cannot
    read after the privilege drop, a secret readable by others, a socket
    directory the user cannot use or that others can write. A milter
    started as root with user = nobody reloads a replaced key on SIGHUP
    and signs the next message (through a real Postfix) with it. Every
    program answers --help with 0 and --version with the package version.
"""
import os
import re
import shutil
import signal
import subprocess
import uuid

import conftest
import harness
from milter_helpers import start_milter, write_conf

PROGRAMS = [("milter", "sluice-milter"), ("policyd", "sluice-policyd"),
            ("feedback", "sluice-feedback")]

# Line numbers matter: each error below is expected at the line marked.
BAD = """# every section, each with errors
secret_file = "%(secret)s"
bogus_top = 1
redis {
  socket = "%(redis)s"
  port = many
}
domain "example.com" {
  default_category = "nosuch"
  dkim "s1" { key = "%(key)s" }
}
category "bulk" {
  subdomain = "Bad_Label"
  rewrite_from = maybe
}
milter {
  socket = "unix:%(dir)s/milter.sock"
  timeout = 0
  frobnicate = 1
policyd {
  listen = { "unix:%(dir)s/policy.sock" }
  mode = sometimes
}
feedback {
  pause_window = 0
}
"""

EXPECTED = [
    (3, 'unknown option "bogus_top" at top level'),
    (6, 'port = "many": not an integer'),
    (9, 'default_category "nosuch" is not defined'),
    (13, 'subdomain "Bad_Label"'),
    (14, 'rewrite_from = "maybe": use true or false'),
    (16, "milter { } is not closed: '}' missing before line 20 (policyd)"),
    (18, "timeout must be 1-3600 seconds"),
    (19, 'unknown option "frobnicate" in milter'),
    (22, 'mode "sometimes": use enforce, monitor or off'),
    (25, "pause_window must be 1 to 31 days"),
]


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def check_n(part, name, conf):
    return run([harness.program(part, name), "-n", "-c", conf])


def ctl_check(conf, *extra):
    return run([harness.program("ctl", "sluicectl"), "check", "-c", conf] + list(extra))


def errors(text):
    """The error lines without the program[pid] prefix, summaries left out."""
    out = set()
    for line in text.splitlines():
        m = re.match(r"^[\w-]+\[\d+\]: error: (.*)$", line)
        if m and not re.search(r": \d+ (configuration )?error", m.group(1)):
            out.add(m.group(1))
    return out


def good_conf(env, user="", key_owner=None, extra=""):
    """A valid file for every program; keys and secret owned by key_owner."""
    key, _ = harness.dkim_keypair(env, "ok-" + uuid.uuid4().hex[:6])
    secret = env.secret("secret-" + uuid.uuid4().hex[:6])
    sockets = os.path.join(env.dir, "sock-" + uuid.uuid4().hex[:6])
    os.mkdir(sockets, 0o755)
    text = ('user = "%s"\nsecret_file = "%s"\n%s'
            'domain "example.com" {\n  dkim "s1" { key = "%s" }\n}\n'
            'category "tx" { subdomain = "mail" }\n'
            'milter {\n  socket = "unix:%s/milter.sock"\n  redis = false\n}\n'
            'policyd {\n  listen = { "unix:%s/policy.sock" }\n}\n'
            'feedback {\n}\n' % (user, secret, extra, key, sockets, sockets))
    conf = env.file("good-%s.conf" % uuid.uuid4().hex[:6], text, 0o600)
    for path in (key, secret, conf) if key_owner else ():
        shutil.chown(path, key_owner)
    if key_owner:
        shutil.chown(sockets, key_owner)
    return conf, key, secret, sockets


def test_every_program_reports_every_error_at_its_line(env):
    key, _ = harness.dkim_keypair(env, "bad")
    text = BAD % {"secret": env.secret(), "redis": os.path.join(env.dir, "no-redis.sock"),
                  "key": key, "dir": env.dir}
    conf = env.file("bad.conf", text, 0o600)
    results = {name: check_n(part, name, conf) for part, name in PROGRAMS}
    results["sluicectl check"] = ctl_check(conf, "--no-connect")
    seen = {}
    for name, r in results.items():
        assert r.returncode == 78, (name, r.returncode, r.stderr)
        assert "configuration not usable" in r.stderr, name
        seen[name] = errors(r.stderr)
        for line, msg in EXPECTED:
            assert any(e.startswith("%s:%d: " % (conf, line)) and msg in e for e in seen[name]), \
                (name, line, msg, sorted(seen[name]))
        # libconfuse's own first-error-only messages never show
        assert "no such option" not in r.stderr, name
    first = seen["sluicectl check"]
    for name, errs in seen.items():
        assert errs == first, (name, errs ^ first)


def test_good_file_ok_everywhere(env):
    conf, _, _, _ = good_conf(env)
    for part, name in PROGRAMS:
        r = check_n(part, name, conf)
        assert r.returncode == 0 and "configuration OK" in r.stdout, (name, r.stdout, r.stderr)
    r = ctl_check(conf, "--no-connect")
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stderr


def test_redis_not_answering(env):
    conf, _, _, _ = good_conf(env, extra='redis {\n  socket = "%s/gone.sock"\n}\n' % env.dir)
    r = ctl_check(conf)
    assert r.returncode == 78 and "no answer to PING" in r.stderr, r.stderr
    assert ctl_check(conf, "--no-connect").returncode == 0
    redis = env.redis()
    conf2, _, _, _ = good_conf(env, extra=redis.conf_section())
    r = ctl_check(conf2)
    assert r.returncode == 0, r.stderr


def test_missing_service_user_refused(env):
    conf, _, _, _ = good_conf(env, user="sluice-nosuch-user")
    for part, name in PROGRAMS:
        r = check_n(part, name, conf)
        assert r.returncode == 78, (name, r.stderr)
        assert '%s:1: user "sluice-nosuch-user": no such user' % conf in r.stderr, (name, r.stderr)
    assert ctl_check(conf, "--no-connect").returncode == 78


def test_key_unreadable_by_service_user_refused(env):
    conftest.require_root()
    conf, key, _, _ = good_conf(env, user="nobody", key_owner="nobody")
    r = ctl_check(conf, "--no-connect")
    assert r.returncode == 0, r.stderr
    shutil.chown(key, "root")            # root-owned 0600: start works, every reload fails
    for part, name in PROGRAMS:
        r = check_n(part, name, conf)
        assert r.returncode == 78, (name, r.stderr)
        assert ('%s:4: key %s: not readable by user "nobody"' % (conf, key)) in r.stderr, \
            (name, r.stderr)
    shutil.chown(key, "nobody")
    shutil.chown(conf, "root")           # the file itself is read again on SIGHUP
    r = ctl_check(conf, "--no-connect")
    assert r.returncode == 78 and "the configuration file %s: not readable by user" \
        % conf in r.stderr, r.stderr
    shutil.chown(conf, "nobody")
    hidden = os.path.join(env.dir, "private")
    os.mkdir(hidden, 0o700)              # a parent directory without search for nobody
    moved = os.path.join(hidden, "k.pem")
    shutil.copy(key, moved)
    shutil.chown(moved, "nobody")
    os.chmod(moved, 0o600)
    text = open(conf).read().replace(key, moved)
    with open(conf, "w") as f:
        f.write(text)
    r = ctl_check(conf, "--no-connect")
    assert r.returncode == 78 and "directory %s" % hidden in r.stderr \
        and "not searchable" in r.stderr, r.stderr


def test_secret_readable_by_others_refused(env):
    conf, _, secret, _ = good_conf(env)
    os.chmod(secret, 0o644)
    for part, name in PROGRAMS:
        r = check_n(part, name, conf)
        assert r.returncode == 78, (name, r.stderr)
        assert "%s:2: secret_file: %s: readable by group or others" % (conf, secret) in r.stderr, \
            (name, r.stderr)


def test_socket_directory_modes_refused(env):
    conftest.require_root()
    conf, _, _, sockets = good_conf(env, user="nobody", key_owner="nobody")
    os.chmod(sockets, 0o777)
    r = ctl_check(conf, "--no-connect")
    assert r.returncode == 78 and "writable by others" in r.stderr, r.stderr
    assert "%s:8: socket %s/milter.sock" % (conf, sockets) in r.stderr, r.stderr
    os.chmod(sockets, 0o755)
    shutil.chown(sockets, "root")
    r = check_n("milter", "sluice-milter", conf)     # works only when started as root
    assert r.returncode == 0 and 'warning: %s:8: socket %s/milter.sock: user "nobody" cannot ' \
        'create the socket' % (conf, sockets) in r.stderr, r.stderr
    shutil.rmtree(sockets)
    r = check_n("policyd", "sluice-policyd", conf)
    assert r.returncode == 78 and "%s does not exist" % sockets in r.stderr, r.stderr


def test_help_and_version_everywhere():
    version = re.search(r"AC_INIT\(\[sluice\], \[([^]]+)\]",
                        open(os.path.join(harness.SRCDIR, "configure.ac")).read()).group(1)
    for part, name in PROGRAMS + [("ctl", "sluicectl")]:
        r = run([harness.program(part, name), "--help"])
        assert r.returncode == 0 and "usage:" in r.stdout, (name, r.returncode, r.stderr)
        r = run([harness.program(part, name), "--version"])
        assert r.returncode == 0 and r.stdout.strip() == "%s %s" % (name, version), (name, r.stdout)
        r = run([harness.program(part, name), "-n", "--frobnicate"])
        assert r.returncode == 64, (name, r.returncode)


def test_sighup_reloads_a_replaced_key_as_the_service_user(env):
    """Started as root with user = nobody; the key is replaced by one nobody
    can read; SIGHUP; the next message is signed with the new key."""
    conftest.require_root()
    key, txt1 = harness.dkim_keypair(env, "hup1")
    secret = env.secret("hup.secret")
    text = ('user = "nobody"\nsecret_file = "%s"\n'
            'domain "example.com" {\n  dkim "s1" { key = "%s" }\n}\n'
            'category "tx" { subdomain = "mail" }\n'
            'milter {\n  socket = "{socket}"\n  socket_mode = "0666"\n  redis = false\n'
            '  default_category = "tx"\n  sasl_binding = "monitor"\n}\n' % (secret, key))
    conf, sock = write_conf(env, text)
    for path in (key, secret, conf):
        shutil.chown(path, "nobody")
    r = check_n("milter", "sluice-milter", conf)
    assert r.returncode == 0, r.stderr
    proc, spec = start_milter(env, conf, sock)
    sink = env.sink()
    pf = env.postfix(relay=sink, milter=spec)

    def send_and_get():
        subject = "hup-" + uuid.uuid4().hex[:10]
        pf.send("a@example.com", ["r@remote.test"],
                ("From: a@example.com\r\nTo: r@remote.test\r\nSubject: %s\r\n"
                 "Message-ID: <%s@x.test>\r\n\r\nHi.\r\n" % (subject, subject)).encode())

        def find():
            for _, raw in sink.messages():
                if ("Subject: " + subject).encode() in raw:
                    return raw
            return None
        return harness.wait_for(find, 30, "message at the sink")

    records1 = {"s1._domainkey.mail.example.com": txt1}
    raw = send_and_get()
    assert [ok for *_, ok in harness.dkim_verify(raw, records1)] == [True], proc.output()
    # the new key, renamed over the old one, still root's: -n says why a
    # reload would fail, and the reload does fail (the milter is nobody now)
    tmp, txt2 = harness.dkim_keypair(env, "hup2")
    os.replace(tmp, key)
    r = check_n("milter", "sluice-milter", conf)
    assert r.returncode == 78 and 'key %s: not readable by user "nobody"' % key in r.stderr, r.stderr
    proc.signal(signal.SIGHUP)
    harness.wait_for(lambda: "reload failed" in proc.output(), 10, "reload failure")
    assert "configuration reloaded" not in proc.output()
    # made readable by the service user: -n is content, SIGHUP reloads
    shutil.chown(key, "nobody")
    assert check_n("milter", "sluice-milter", conf).returncode == 0
    proc.signal(signal.SIGHUP)
    harness.wait_for(lambda: "configuration reloaded" in proc.output(), 10, "reload")
    raw = send_and_get()
    records2 = {"s1._domainkey.mail.example.com": txt2}
    assert [ok for *_, ok in harness.dkim_verify(raw, records2)] == [True], proc.output()
    assert [ok for *_, ok in harness.dkim_verify(raw, records1)] == [False]
