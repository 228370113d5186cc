"""The policy pack served as the Pulumi CLI serves it: `python -m pulumi.policy <engine address> <pack dir>` in a
process of its own, the port it prints, the analyzer's gRPC protocol; and every module that process loaded.

The import record is the interpreter's own (PYTHONPROFILEIMPORTTIME, the environment form of `-X importtime`: one
line on stderr as each module first loads, in any thread): no hook or module is added to the pack's process and
its argv and sys.path are the CLI's, so it imports and boots as it would under the CLI.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# `import time: <self us> | <cumulative us> | <indent><module>`; the header line has words where the numbers are.
_IMPORT_LINE = re.compile(r"import time:\s+\d+ \|\s+\d+ \| ( *)(\S+)$")


@dataclass
class Served:
    replies: Any  # what the conversation returned
    imported: list[str]  # the modules loaded after the interpreter's start-up (site and its .pth files), in order
    serving: bool  # still serving when the conversation ended (then terminated: a clean exit costs ~1 s of teardown)
    stderr: str  # the pack's own stderr, the import lines left out


def serve(pack_dir: Path, talk: Callable[[Any], Any], env: dict[str, str] | None = None,
          boot_timeout: float = 60) -> Served:
    """Boot the pack, `talk(stub)` to it (an AnalyzerStub on its port), stop it; the process never outlives this."""
    import grpc
    from pulumi.runtime.proto import analyzer_pb2_grpc

    with tempfile.TemporaryFile() as err:  # a file, not a pipe: ~1300 import lines never block the pack
        proc = subprocess.Popen(
            [sys.executable, "-m", "pulumi.policy", "127.0.0.1:1", str(pack_dir)], stdout=subprocess.PIPE,
            stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPROFILEIMPORTTIME": "1", **(env or {})})
        try:
            try:
                ready, _, _ = select.select([proc.stdout], [], [], boot_timeout)
                line = proc.stdout.readline() if ready else b""
                if not line.strip():
                    raise AssertionError(f"the pack printed no port in {boot_timeout} s" if not ready
                                         else "the pack closed its stdout without printing a port")
                with grpc.insecure_channel(f"127.0.0.1:{int(line)}") as channel:
                    replies = talk(analyzer_pb2_grpc.AnalyzerStub(channel))
                serving = proc.poll() is None
            except BaseException as exc:
                _stop(proc)
                exc.add_note(f"the pack's stderr:\n{_split(_read(err))[1][-3000:]}")
                raise
        finally:
            _stop(proc)
            proc.stdout.close()
        imported, stderr = _split(_read(err))
    return Served(replies, imported, serving, stderr)


def _stop(proc: subprocess.Popen) -> None:
    """Each import line is written as the module loads (C stdio's unbuffered stderr): nothing waits for an exit."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read(err) -> str:
    err.seek(0)
    return err.read().decode(errors="replace")


def _split(stderr: str) -> tuple[list[str], str]:
    """(modules loaded after start-up, the other lines). Start-up ends with `site`, the one module the interpreter
    imports itself (its .pth files' imports print before it); the CLI's own entry point (runpy) loads after."""
    modules, other = [], []
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            modules.append(match[2])
            if match[2] == "site" and not match[1]:
                modules.clear()
        elif not line.startswith("import time:"):
            other.append(line)
    return modules, "\n".join(other)
