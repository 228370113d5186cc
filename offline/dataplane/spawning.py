"""Child processes and sockets in a threaded process.

A child gets a copy of every descriptor its parent holds at fork and keeps it until exec closes it (every socket
here is close-on-exec). If another thread closes a listening socket in that window and binds its port again, the
child's copy still listens, and the bind fails with EADDRINUSE. The differential sweep moves its emulations in
threads, each starting ip/nft processes while the others close and reopen their servers: under load that window
was long enough to fail the sweep now and then.

So the data plane starts its children here, one at a time under ``LOCK`` (``subprocess.Popen`` returns once the
child has exec'd, or failed to), and binds its sockets under the same lock: a bind never meets a child that has
not exec'd yet. Waiting for the child to exit happens outside the lock.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Sequence

LOCK = threading.Lock()


def run(cmd: Sequence[str], input: str | None = None, check: bool = False, **popen) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, input=..., capture_output=True, text=True)``, its child started under ``LOCK``."""
    if {"close_fds", "pass_fds"} & set(popen):
        # The child must close every inherited descriptor before exec (close_fds=True, the default): Popen returns
        # when exec closes the error pipe, and descriptors left to close-on-exec would close about then, unordered.
        raise ValueError("spawning.run keeps close_fds=True and passes no descriptors")
    with LOCK:
        child = subprocess.Popen(cmd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    with child:
        out, err = child.communicate(input)
    done = subprocess.CompletedProcess(cmd, child.returncode, out, err)
    if check:
        done.check_returncode()
    return done


def bind(sock: socket.socket, address: tuple[str, int]) -> None:
    """``sock.bind(address)`` once no child started here can still hold a socket that had the port."""
    with LOCK:
        sock.bind(address)
