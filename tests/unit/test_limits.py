"""The watcher raises its open-files soft limit to the hard limit: kept and IDLE sockets."""

from __future__ import annotations

import resource
import subprocess
import sys


def test_the_soft_open_files_limit_is_raised_to_the_hard_one():
    # In a child process with a low soft limit, so the test's own process is left as it is.
    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))\n"
        "from watcher.limits import raise_open_files_limit\n"
        "print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    returned, soft, hard = (int(v) for v in out.stdout.split())
    expected = hard if hard != resource.RLIM_INFINITY else 1 << 20
    assert returned == soft == expected > 64
