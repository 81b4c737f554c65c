"""
NAME
    test_package - build the Debian package, install it in a throwaway root,
    check what its maintainer scripts made, run the daemons from it, purge it

SYNOPSIS
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/package/test_package.py
    (run by .ci/run as its own step; needs root, dpkg-buildpackage, lintian)

DESCRIPTION
    The source tree (tracked and untracked files that git does not ignore)
    is copied to a temporary folder and built once with
    DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b.

    The temporary root is an overlay of the machine's own / with a private
    upper layer, mounted in a private mount and network namespace
    (unshare -m -n) and entered with chroot: dpkg -i, the real postinst
    (adduser, chown, sluicectl secret init), dpkg --purge and the daemons
    all run there for real, and nothing they write reaches the machine
    (the upper layer is a folder under /var/tmp, removed at the end; the
    daemons' listeners are on the namespace's own loopback). Every call
    mounts the same upper layer again, so the state carries over.

    Not covered: systemd starting the units (no systemd as PID 1 here:
    the postinst's deb-systemd-invoke is skipped exactly as in a chroot),
    so the sandbox settings are checked by systemd-analyze verify and
    security, not exercised; a real Postfix using the sockets (the test
    connects as the postfix user instead).
"""
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Every unit the package ships; the first two are enabled at install
UNITS = ["sluice-milter.service", "sluice-policyd.service", "sluice-logd.service",
         "sluice-dmarc-reports.service", "sluice-dmarc-reports.timer"]
ENABLED = UNITS[:2]
# held to the same sandbox as the daemons (a timer has none of its own)
SANDBOXED = [u for u in UNITS if u.endswith(".service")]
# systemd-analyze security: what the units score today is 1.5 ("OK");
# loosening the sandbox past this fails the test.
MAX_EXPOSURE = 2.0


def need(tool):
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: contrib/install-deps.sh installs it")


@pytest.fixture(scope="module")
def deb():
    """Build the package once; yield (folder, .deb path, .changes path)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (dpkg in a private mount namespace)")
    need("dpkg-buildpackage")
    work = tempfile.mkdtemp(prefix="sluice-pkg.", dir="/var/tmp")
    src = os.path.join(work, "sluice")
    os.mkdir(src)
    files = subprocess.run(
        ["git", "-C", TOP, "ls-files", "-co", "--exclude-standard", "-z"],
        check=True, capture_output=True).stdout.split(b"\0")
    for f in files:
        f = f.decode()
        if not f or f.startswith(("build", ".ci-")) or not os.path.isfile(os.path.join(TOP, f)):
            continue
        os.makedirs(os.path.join(src, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(TOP, f), os.path.join(src, f))
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2")
    r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        pytest.fail("dpkg-buildpackage failed:\n" + r.stdout[-4000:])
    debs = [f for f in os.listdir(work) if re.match(r"sluice_.*\.deb$", f)]
    changes = [f for f in os.listdir(work) if f.endswith(".changes")]
    assert len(debs) == 1 and len(changes) == 1, os.listdir(work)
    yield work, os.path.join(work, debs[0]), os.path.join(work, changes[0])
    shutil.rmtree(work, ignore_errors=True)


class Root:
    """An overlay of / with its own upper layer, entered with chroot."""

    def __init__(self, work):
        self.dir = tempfile.mkdtemp(prefix="root.", dir=work)
        for d in ("upper", "work", "merged"):
            os.mkdir(os.path.join(self.dir, d))

    def run(self, script, check=True):
        """Run a sh -e script inside the root; return its CompletedProcess."""
        d = self.dir
        outer = (
            "set -e\n"
            f"mount -t overlay overlay -o lowerdir=/,upperdir={d}/upper,workdir={d}/work {d}/merged\n"
            f"mount --rbind /dev {d}/merged/dev\n"
            f"mount -t proc proc {d}/merged/proc\n"
            f"mount -t tmpfs tmpfs {d}/merged/run\n"
            f"mount -t tmpfs tmpfs {d}/merged/tmp\n"
            "ip link set lo up\n"
            f'exec chroot {d}/merged /bin/sh -ec "$1"\n')
        r = subprocess.run(["unshare", "-m", "-n", "--propagation", "private",
                            "sh", "-c", outer, "sh", script],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=300)
        if check and r.returncode != 0:
            pytest.fail(f"in the temporary root, exit {r.returncode}:\n{script}\n---\n{r.stdout}")
        return r

    def path(self, p):
        """Where a file of the root is once written (the upper layer)."""
        return os.path.join(self.dir, "upper", p.lstrip("/"))


@pytest.fixture(scope="module")
def root(deb):
    work, debfile, _ = deb
    r = Root(work)
    r.run(f"dpkg -i {debfile}")
    return r


def stat_line(root, path):
    return root.run(f"stat -c '%U:%G %a' {path}").stdout.strip()


def test_lintian_has_no_errors(deb):
    need("lintian")
    _, _, changes = deb
    r = subprocess.run(["lintian", "--pedantic", changes], capture_output=True, text=True)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert errors == [], r.stdout


def test_postinst_made_user_dirs_and_secret(root):
    ids = root.run("id sluice").stdout
    assert "(sluice)" in ids
    assert root.run("getent passwd sluice").stdout.split(":")[6].strip() in (
        "/usr/sbin/nologin", "/bin/false")
    assert stat_line(root, "/etc/sluice") == "root:sluice 750"
    assert stat_line(root, "/etc/sluice/keys") == "sluice:sluice 700"
    assert stat_line(root, "/etc/sluice/token.key") == "sluice:sluice 600"
    assert stat_line(root, "/var/spool/postfix/sluice") == "sluice:postfix 2750"
    assert os.path.getsize(root.path("/etc/sluice/token.key")) >= 16


def test_installed_config_passes_every_check_as_the_service_user(root):
    """What the units' ExecStartPre runs: each program's -n, as sluice."""
    for prog in ("sluice-milter", "sluice-policyd", "sluice-feedback", "sluicectl"):
        r = root.run(f"runuser -u sluice -- {prog} -n -c /etc/sluice/sluice.conf", check=False)
        assert r.returncode == 0, f"{prog} -n: {r.stdout}"
    usage = root.run("sluicectl 2>&1 || true").stdout
    if re.search(r"^\s*check\b", usage, re.M):  # sluicectl check, where it exists
        r = root.run("sluicectl -c /etc/sluice/sluice.conf check --no-connect", check=False)
        assert r.returncode == 0, r.stdout


def test_units_verify_and_score(root):
    """systemd-analyze verify finds the binaries and man pages the package installed."""
    units = " ".join(f"/lib/systemd/system/{u}" for u in UNITS)
    r = root.run(f"systemd-analyze verify {units} 2>&1 | grep -i sluice || true")
    assert r.stdout.strip() == "", r.stdout
    for u in SANDBOXED:
        out = root.run(f"systemd-analyze security --offline=yes /lib/systemd/system/{u}").stdout
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
        assert m, out
        assert float(m.group(1)) <= MAX_EXPOSURE, (u, out)
    enabled = root.run("ls /etc/systemd/system/multi-user.target.wants/").stdout
    assert all(u in enabled for u in ENABLED), enabled
    assert "sluice-logd" not in enabled, enabled   # needs logd { log_file } first
    timers = root.run("ls /etc/systemd/system/timers.target.wants/ 2>/dev/null || true").stdout
    assert "sluice-dmarc-reports" not in timers, timers


def test_daemons_run_as_sluice_and_postfix_reaches_the_sockets(root):
    """As the units start them: user sluice, no root; the sockets get the group postfix."""
    script = r"""
mkdir -p /run/sluice-policyd /run/sluice-milter
chown sluice /run/sluice-policyd /run/sluice-milter
cd /
# Whatever fails below, the daemons are stopped (and hold no pipe open)
stop() {
	pids=$(cat /run/sluice-policyd/p.pid /run/sluice-milter/m.pid 2>/dev/null || true)
	[ -n "$pids" ] || return 0
	kill $pids 2>/dev/null || true
	n=0
	while [ $n -lt 150 ] && kill -0 $pids 2>/dev/null; do sleep 0.1; n=$((n+1)); done
	kill -9 $pids 2>/dev/null || true
}
trap stop EXIT
runuser -u sluice -- sluice-policyd -f -c /etc/sluice/sluice.conf -p /run/sluice-policyd/p.pid >/tmp/p.log 2>&1 &
runuser -u sluice -- sluice-milter -f -c /etc/sluice/sluice.conf -p /run/sluice-milter/m.pid >/tmp/m.log 2>&1 &
i=0
while [ $i -lt 100 ] && ! { [ -S /var/spool/postfix/sluice/policy.sock ] && [ -S /var/spool/postfix/sluice/milter.sock ] && [ -s /run/sluice-policyd/p.pid ] && [ -s /run/sluice-milter/m.pid ]; }; do
	sleep 0.1; i=$((i+1))
done
stat -c 'SOCK %n %U:%G %a' /var/spool/postfix/sluice/policy.sock /var/spool/postfix/sluice/milter.sock
ps -o user= -p "$(cat /run/sluice-policyd/p.pid)" | sed 's/^/PUSER /'
ps -o user= -p "$(cat /run/sluice-milter/m.pid)" | sed 's/^/MUSER /'
printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nsender=a@example.com\nrecipient=b@example.net\nclient_address=127.0.0.1\n\n' >/tmp/req
runuser -u postfix -- /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10)
s.connect("/var/spool/postfix/sluice/policy.sock"); s.sendall(open("/tmp/req", "rb").read())
print("ANSWER", s.recv(4096).decode().strip())'
runuser -u nobody -- /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("/var/spool/postfix/sluice/milter.sock"); print("NOBODY connected")
except OSError as e:
    print("NOBODY refused", e.errno)'
kill "$(cat /run/sluice-policyd/p.pid)" "$(cat /run/sluice-milter/m.pid)"
wait
ls /run/sluice-policyd /run/sluice-milter | sed 's/^/LEFT /'
echo DONE
"""
    out = root.run(script).stdout
    assert "DONE" in out, out
    assert re.search(r"SOCK \S+policy.sock sluice:postfix 660", out), out
    assert re.search(r"SOCK \S+milter.sock sluice:postfix 660", out), out
    assert "PUSER sluice" in out and "MUSER sluice" in out, out
    assert re.search(r"ANSWER action=\S+", out), out
    assert "NOBODY refused 13" in out, out
    assert "LEFT p.pid" not in out and "LEFT m.pid" not in out, out


def test_reinstall_keeps_the_secret_and_purge_keeps_keys(root, deb):
    _, debfile, _ = deb
    before = hashlib.sha256(open(root.path("/etc/sluice/token.key"), "rb").read()).hexdigest()
    root.run(f"dpkg -i {debfile}")
    after = hashlib.sha256(open(root.path("/etc/sluice/token.key"), "rb").read()).hexdigest()
    assert before == after, "reinstalling replaced the token secret"

    # A DKIM key, as an admin makes it: purge must keep it and its owner.
    root.run("sluicectl dkim keygen --domain example.com --selector s1 --out /etc/sluice/keys"
             " >/dev/null && chown -R sluice:sluice /etc/sluice/keys")
    root.run("dpkg --purge sluice")
    out = root.run("ls -A /etc/sluice /etc/sluice/keys; id sluice; "
                   "[ ! -e /var/spool/postfix/sluice ] && echo NOSOCKDIR; "
                   "[ ! -e /usr/sbin/sluice-milter ] && echo NOBIN").stdout
    assert "token.key" not in out and "sluice.conf" not in out, out
    assert "example.com.s1" in out, out
    assert "uid=" in out and "NOSOCKDIR" in out and "NOBIN" in out, out

    # Without keys left, purge removes /etc/sluice and the user too.
    root.run(f"rm -r /etc/sluice/keys && dpkg -i {debfile} && dpkg --purge sluice")
    out = root.run("[ ! -e /etc/sluice ] && echo NOETC; id sluice 2>&1 || true; "
                   "getent group sluice || echo NOGROUP").stdout
    assert "NOETC" in out and "no such user" in out and "NOGROUP" in out, out
