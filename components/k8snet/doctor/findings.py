"""One line per check: what was checked, its status, what was found and, on failure, the remedy."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

OK, FAIL, ERROR, WARN, SKIP = "ok", "FAIL", "ERROR", "warn", "skip"  # ERROR: could not check


@dataclass(frozen=True)
class Finding:
    check: str  # e.g. "pod route"
    subject: str  # e.g. "node2 in rtb-0abc"
    status: str  # ok | FAIL | ERROR | warn | skip
    detail: str
    remedy: str = ""


def ok(check: str, subject: str, detail: str) -> Finding:
    return Finding(check, subject, OK, detail)


def fail(check: str, subject: str, detail: str, remedy: str) -> Finding:
    return Finding(check, subject, FAIL, detail, remedy)


def warn(check: str, subject: str, detail: str, remedy: str = "") -> Finding:
    return Finding(check, subject, WARN, detail, remedy)


def error(check: str, subject: str, detail: str, remedy: str) -> Finding:
    return Finding(check, subject, ERROR, detail, remedy)


def skip(check: str, subject: str, detail: str) -> Finding:
    return Finding(check, subject, SKIP, detail)


def exit_code(findings: list[Finding]) -> int:
    """Like the preview: 0 all good (warnings and skips included), 1 a check failed or could not run (a check
    that could not read what it needs has proven nothing)."""
    return 1 if any(f.status in (FAIL, ERROR) for f in findings) else 0


def table(findings: list[Finding]) -> str:
    rows = [["status", "check", "subject", "found"]] + [[f.status, f.check, f.subject, f.detail] for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in rows]
    remedies = [f"  - {f.check} {f.subject}: {f.remedy}" for f in findings
                if f.status in (FAIL, ERROR, WARN) and f.remedy]
    count = {s: sum(f.status == s for f in findings) for s in (FAIL, ERROR, WARN, SKIP)}
    lines.append("")
    lines.append(f"{len(findings)} checks: {count[FAIL]} failed, {count[ERROR]} could not run, {count[WARN]} "
                 f"warnings, {count[SKIP]} skipped")
    if remedies:
        lines += ["", "Remedies:", *remedies]
    return "\n".join(lines)


def to_json(findings: list[Finding]) -> str:
    return json.dumps({"ok": exit_code(findings) == 0, "findings": [asdict(f) for f in findings]},
                      sort_keys=True, indent=1)
