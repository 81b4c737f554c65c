"""
NAME
    conftest - pytest fixtures for the integration suite

DESCRIPTION
    env: a harness.Env per test, closed (every process stopped by pid)
    after the test, whether it passed or failed. Tests that need root say
    so: without root they are skipped locally, and fail under CI=true, so
    CI never passes by skipping them. resolver_guard.enter() first gives the
    whole run a resolv.conf that points nowhere real.

    The suite runs in parallel (pytest-xdist, run-integration). Markers:
    serial: the test needs an idle machine (a crowd of clients, an fd
    limit, latencies); run-integration runs these after the others, one at
    a time. xdist_group(name): the tests of one group run one after the
    other on one worker (a module-scoped fixture's tests, or tests that
    must not overlap each other). Slow files are handed out first, so the
    last worker does not finish minutes after the others.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import resolver_guard  # noqa: E402

resolver_guard.enter()  # before any daemon: no test reaches the machine's resolver


# Files that take the longest, longest first; the rest keep their order.
SLOW_FIRST = ["test_redis_sentinel.py", "test_logd_postfix.py", "test_feedback_trust.py",
              "test_redis_cluster.py", "test_milter_binding.py", "test_milter_outbound.py",
              "test_feedback_binding.py", "test_milter_suppress.py", "test_inbound_postfix.py",
              "test_feedback_input.py", "test_dmarc_reports.py", "test_sendmail.py",
              "test_feedback_postfix.py", "test_inbound_preflight.py"]


def pytest_configure(config):
    config.addinivalue_line("markers", "serial: needs an idle machine; run alone, after the parallel run")
    config.addinivalue_line("markers", "xdist_group(name): run on one worker, one test after the other")


@pytest.hookimpl(tryfirst=True)     # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(session, config, items):
    """Slow files first (same order on every worker, as xdist requires);
    the tests of a file that has a module-scoped fixture in one group, so
    they share its world on one worker, in file order, as they were written."""
    def rank(item):
        name = os.path.basename(str(item.fspath))
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)
    items.sort(key=rank)        # stable: the order inside a file is kept
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs.values() if info else ()
        if (not item.get_closest_marker("xdist_group")
                and any(d[-1].scope in ("module", "package", "session") for d in defs if d)):
            item.add_marker(pytest.mark.xdist_group(os.path.basename(str(item.fspath))))


def require_root():
    """Postfix needs root: skip locally without it, fail in CI."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("this test needs root (Postfix); CI must run as root")
        pytest.skip("needs root to run a throwaway Postfix instance")


@pytest.fixture
def env(request):
    e = harness.Env(request.node.name[:40].replace("/", "_"))
    yield e
    e.close()


@pytest.fixture
def root_env(env):
    require_root()
    return env
