"""
NAME
    resolver_guard - no test reaches the machine's own resolver

DESCRIPTION
    enter() runs once, from conftest.py, before any test or daemon starts.
    As root (how the suite runs: CI, or a developer with Postfix) it moves
    the pytest process into a private mount namespace (unshare(2)
    CLONE_NEWNS, mounts made private) and bind-mounts over /etc/resolv.conf
    a file naming only GUARD_NS, a loopback address where nothing listens
    on port 53. Every process a test starts (the daemons, Postfix,
    sluicectl, dkimpy, pytest-xdist's workers) inherits that namespace, so
    a lookup that no zone file, test DNS server or dns_nameserver answers
    fails at once (port unreachable) instead of asking the machine's
    servers; test_inbound_resolver.py proves it and catches such lookups.
    /etc/hosts is left alone. SLUICE_RESOLV_GUARD is set to GUARD_NS once
    done, so xdist's workers (children, already inside) skip it.
ERRORS
    Under CI=true a failure to enter the namespace fails the session;
    locally it is a warning and the machine's resolver stays in place.
"""
import atexit
import ctypes
import os
import tempfile
import warnings

GUARD_NS = "127.83.76.53"  # loopback; nothing listens on its port 53
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18


def _fail(why):
    if os.environ.get("CI"):
        raise RuntimeError("resolver_guard: " + why)
    warnings.warn("resolver_guard: %s: tests may reach the machine's resolver" % why)


def enter():
    """Enter the namespace with our resolv.conf (once per process tree)."""
    if os.environ.get("SLUICE_RESOLV_GUARD") or os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    fd, path = tempfile.mkstemp(prefix="sluice-resolv-")
    with os.fdopen(fd, "w") as f:
        f.write("# resolver_guard.py: no test reaches the machine's resolver\n"
                "nameserver %s\noptions timeout:1 attempts:1\n" % GUARD_NS)
    try:
        if libc.unshare(CLONE_NEWNS) != 0:
            return _fail("unshare: %s" % os.strerror(ctypes.get_errno()))
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0 or \
           libc.mount(path.encode(), b"/etc/resolv.conf", None, MS_BIND, None) != 0:
            return _fail("mount: %s" % os.strerror(ctypes.get_errno()))
        os.environ["SLUICE_RESOLV_GUARD"] = GUARD_NS
    finally:
        # not before: a bind mount of an unlinked file cannot be mounted over
        # (test_inbound_dnsmasq.py and test_sendmail.py mount their own)
        atexit.register(os.unlink, path)
