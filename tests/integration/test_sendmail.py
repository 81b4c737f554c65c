"""
NAME
    test_sendmail - sluice-milter behind a real Sendmail: DKIM and the envelope rewrite

DESCRIPTION
    Debian's sendmail-bin conflicts with postfix, so the packages are
    fetched by contrib/install-deps.sh (apt-get download; tests reach no
    network) and unpacked with dpkg -x into the test's folder (NOTES.md). A sendmail.cf is built with m4 from the unpacked
    cf/m4/cf.m4 and contrib/sendmail/sluice.mc's INPUT_MAIL_FILTER line
    (only the socket path changed), with a smart host on smtp-sink and a
    daemon on a loopback port. Sendmail runs in the foreground (-bD) with
    LD_LIBRARY_PATH for its unpacked libraries (the set-group-id bit is
    removed so that the loader honours it), in a private mount namespace
    whose /etc/hosts qualifies the host's name (Sendmail waits a minute at
    start for an unqualified one) and whose resolv.conf points at loopback.

    The messages are submitted over SMTP from 127.0.0.1 (an internal
    network for sluice-milter, as an application server is). What
    reached smtp-sink must carry a signature that dkimpy verifies, and a
    bounce address of the category's subdomain as its envelope sender
    (smfi_chgfrom), which sluice-milter --decode-token accepts; with the
    milter down Sendmail must answer 4xx (F=T), never relay unsigned.
"""
import glob
import os
import re
import shutil
import smtplib
import subprocess
import uuid

import pytest

import conftest
import harness
from milter_helpers import decode_token, dkim_results, start_milter, write_conf

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ["sendmail-bin", "sendmail-base", "sendmail-cf", "libwrap0", "liblockfile1"]
DEBS = "/var/cache/sluice-tests/sendmail"  # contrib/install-deps.sh fills it

CONF = """
secret_file = "%(secret)s"
internal_networks = { "127.0.0.0/8" }
domain "example.com" {
  default_category = "transactional"
  dkim "r1" { algorithm = "rsa-sha256"  key = "%(rsa)s" }
}
category "transactional" { subdomain = "mail" }
milter {
  socket = "{socket}"
  socket_mode = "0660"
}
"""

MC = """divert(-1)
divert(0)dnl
VERSIONID(`sluice test')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `relay.example.com')dnl
define(`SMART_HOST', `[127.0.0.1]')dnl
define(`RELAY_MAILER_ARGS', `TCP $h %(sink)d')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h %(sink)d')dnl
define(`QUEUE_DIR', `%(dir)s/queue')dnl
define(`confPID_FILE', `%(dir)s/sendmail.pid')dnl
define(`STATUS_FILE', `%(dir)s/statistics')dnl
define(`confSERVICE_SWITCH_FILE', `%(dir)s/service.switch')dnl
define(`ALIAS_FILE', `%(dir)s/aliases')dnl
define(`confHOST_STATUS_DIRECTORY', `')dnl
define(`confDONT_BLAME_SENDMAIL', `GroupWritableDirPathSafe,NonRootSafeAddr,TrustStickyBit,InsufficientEntropy')dnl
define(`confDELIVERY_MODE', `background')dnl
define(`confLOG_LEVEL', `9')dnl
dnl the test machine's load average is no reason to refuse or queue: by default
dnl sendmail closes its listener above 12 per CPU and only queues above 8 per CPU
define(`confREFUSE_LA', `100000')dnl
define(`confQUEUE_LA', `100000')dnl
define(`confDELAY_LA', `0')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`nocanonify')dnl
dnl 127.0.0.1 must not be one of our names, or the smart host is ourselves
define(`confDONT_PROBE_INTERFACES', `True')dnl
DAEMON_OPTIONS(`Port=%(port)d, Addr=127.0.0.1, Name=MTA')dnl
%(milter)s
MAILER(`smtp')dnl
"""


def unpack_sendmail(dest):
    """dpkg -x the packages contrib/install-deps.sh downloaded (tests reach no network) into dest."""
    debs = [glob.glob(os.path.join(DEBS, p + "_*.deb")) for p in PACKAGES]
    if not all(debs):
        pytest.fail("%s lacks %s: run contrib/install-deps.sh" % (DEBS, " ".join(PACKAGES)))
    root = os.path.join(dest, "root")
    os.makedirs(root)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", deb[0], root], check=True)
    binary = os.path.join(root, "usr/libexec/sendmail/sendmail")
    os.chmod(binary, 0o755)  # no set-group-id: the loader must honour LD_LIBRARY_PATH
    return root, binary


def milter_line(socket):
    """contrib/sendmail/sluice.mc's INPUT_MAIL_FILTER line, with the test's socket."""
    with open(os.path.join(TOP, "contrib/sendmail/sluice.mc")) as f:
        lines = [l for l in f if l.startswith("INPUT_MAIL_FILTER(")]
    assert len(lines) == 1, "contrib/sendmail/sluice.mc has one INPUT_MAIL_FILTER line"
    return re.sub(r"S=unix:[^,]+", "S=unix:" + socket, lines[0].strip())


class World:
    pass


@pytest.fixture(scope="module")
def world():
    conftest.require_root()
    if shutil.which("m4") is None:
        pytest.fail("m4 is missing: contrib/install-deps.sh installs it")
    env = harness.Env("sendmail")
    try:
        w = World()
        w.env = env
        w.redis = env.redis()
        rsa, w.rsa_txt = harness.dkim_keypair(env, "example", "rsa")
        w.conf, w.sock = write_conf(env, CONF % {"secret": env.secret(), "rsa": rsa},
                                    redis=w.redis)
        w.milter, _ = start_milter(env, w.conf, w.sock)
        w.sink = env.sink()
        root, binary = unpack_sendmail(os.path.join(env.dir, "sendmail"))
        d = os.path.join(env.dir, "sm")
        os.makedirs(os.path.join(d, "queue"), mode=0o700)
        with open(os.path.join(d, "service.switch"), "w") as f:
            f.write("hosts files\naliases files\n")
        open(os.path.join(d, "aliases"), "w").close()
        w.port = harness.free_port()
        mc = MC % {"sink": w.sink.port, "dir": d, "port": w.port, "milter": milter_line(w.sock)}
        cfdir = os.path.join(root, "usr/share/sendmail/cf")
        with open(os.path.join(d, "sendmail.cf"), "w") as out:
            subprocess.run(["m4", "-D_CF_DIR_=" + cfdir + "/", os.path.join(cfdir, "m4/cf.m4"), "-"],
                           input=mc, stdout=out, check=True, text=True)
        # Sendmail resolves the host's own name at start and sleeps a minute
        # while it is unqualified: in a private mount namespace, /etc/hosts
        # qualifies it and resolv.conf sends DNS to loopback, where nothing
        # answers (no query leaves the machine).
        host = os.uname().nodename
        hosts = env.file("sm-hosts", "127.0.0.1 localhost\n127.0.1.1 %s.sluice.test %s\n"
                         % (host, host))
        resolv = env.file("sm-resolv.conf", "nameserver 127.0.0.1\n")
        libs = w.libs = "LD_LIBRARY_PATH=" + os.path.join(root, "usr/lib/x86_64-linux-gnu")
        w.binary, w.cf = binary, os.path.join(d, "sendmail.cf")
        script = ('mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 '
                  '&& exec env "$@"')
        w.sendmail = harness.Proc(env, "sendmail", [
            "unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", hosts, resolv,
            libs, binary, "-C", os.path.join(d, "sendmail.cf"), "-bD", "-d0.1", "-L", "sendmail-test"])
        try:
            harness.wait_for(lambda: harness.can_connect(("127.0.0.1", w.port))
                             or not w.sendmail.alive(), 20, "sendmail to listen")
        except TimeoutError:
            pytest.fail("sendmail does not listen:\n" + w.sendmail.output())
        assert w.sendmail.alive(), w.sendmail.output()
        yield w
    finally:
        env.close()


def send(w, mail_from, rcpt):
    """One message over SMTP to Sendmail; returns its Subject."""
    subject = "sm-" + uuid.uuid4().hex[:12]
    text = ("From: App <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@app.test>\r\n\r\n"
            "Hello from behind Sendmail.\r\n" % (mail_from, rcpt, subject, subject))
    with smtplib.SMTP("127.0.0.1", w.port, timeout=60) as s:
        s.sendmail(mail_from, [rcpt], text.encode())
    return subject


def received(w, subject, timeout=60):
    """What reached smtp-sink; on a timeout, fail with Sendmail's queue listing."""
    def find():
        for envelope, raw in w.sink.messages():
            if ("Subject: " + subject).encode() in raw:
                return envelope, raw
        return None
    try:
        return harness.wait_for(find, timeout, "message %s at smtp-sink" % subject)
    except TimeoutError:
        q = subprocess.run(["env", w.libs, w.binary, "-C", w.cf, "-bp"], capture_output=True,
                           text=True, timeout=30)
        pytest.fail("not delivered; sendmail -bp:\n%s%s\n%s" % (q.stdout, q.stderr,
                                                                w.sendmail.output()))


def test_sendmail_relays_signed_with_the_bounce_address(world):
    w = world
    subject = send(w, "app@example.com", "someone@remote.test")
    envelope, raw = received(w, subject)
    records = {"r1._domainkey.mail.example.com": w.rsa_txt}
    assert dkim_results(raw, records) == [("mail.example.com", "r1", "rsa-sha256", True)], raw
    mail_from = envelope["mail_from"]
    assert re.match(r"b[0-9a-z]+-transactional-.*@mail\.example\.com$", mail_from), envelope
    rc, out = decode_token(w.conf, mail_from)
    assert rc == 0 and "category=transactional" in out, out


def test_sendmail_tempfails_while_the_milter_is_down(world):
    w = world
    w.milter.stop()  # the last test of the module: the milter stays down
    with pytest.raises(smtplib.SMTPResponseException) as e:
        send(w, "app@example.com", "other@remote.test")
    assert 400 <= e.value.smtp_code < 500, e.value
