"""
NAME
    test_harness - the harness itself: processes stopped by pid, sanitizer reports fail

DESCRIPTION
    The suite relies on Env.close() to stop what a test started and to
    turn a sanitizer report in a daemon's output into a failure (the CI
    runs the integration suite once more against an ASan+UBSan build).
"""
import os

import pytest

import harness


def test_close_stops_by_pid_and_reports_sanitizer_output():
    env = harness.Env("harness")
    quiet = env.daemon("quiet", ["sleep", "60"])
    noisy = env.daemon("noisy", ["sh", "-c", "echo '==7==ERROR: AddressSanitizer: "
                                 "heap-use-after-free on address 0x1'; exec sleep 60"])
    harness.wait_for(lambda: "AddressSanitizer" in noisy.output(), 5, "the report")
    with pytest.raises(AssertionError) as info:
        env.close()
    assert "noisy" in str(info.value) and "heap-use-after-free" in str(info.value)
    assert "quiet" not in str(info.value)
    for p in (quiet, noisy):
        assert not p.alive() and not harness.pid_alive(p.pid)
    assert not os.path.exists(env.dir)


def test_clean_output_closes_quietly():
    env = harness.Env("harness")
    env.daemon("fine", ["sh", "-c", "echo all good; exec sleep 60"])
    env.close()
