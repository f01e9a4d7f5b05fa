"""The open-files limit a watcher needs: each IMAP account may hold two sockets (its kept
session and its IDLE), and a shell's default soft limit (often 1,024) is below what a
thousand accounts need while the hard limit (often 524,288 under systemd) is not."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger(__name__)


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (no privilege needed); the new soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:  # a container may forbid it: run with what is
            log.warning("could not raise the open-files limit from %s: %s", soft, exc)
            return soft
        log.info("open-files limit raised from %s to %s", soft, wanted)
        return wanted
    return soft
