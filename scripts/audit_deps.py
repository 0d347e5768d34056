"""T17: pip-audit the installed (locked) dependencies against a vulnerability service.

pip-audit asks PyPI's per-release JSON API (`/pypi/NAME/VERSION/json`) or OSV. Some networks
reach PyPI's package index but not those APIs (a mirror or a filtering proxy). There pip-audit
cannot tell "no known vulnerability" from "could not ask", so this script asks first: with a
service it runs pip-audit and fails on any finding; without one it says loudly that nothing was
audited and exits 0, or 2 when NAVREME_REQUIRE_AUDIT=1 (the nightly tier, release builds).
"""

from __future__ import annotations

import os
import subprocess  # nosec B404 - runs pip-audit from this venv with fixed arguments
import sys
from importlib.metadata import version
from pathlib import Path

import httpx

PROBES = {
    "pypi": ("GET", f"https://pypi.org/pypi/httpx/{version('httpx')}/json", None),
    "osv": ("POST", "https://api.osv.dev/v1/query",
            {"package": {"name": "httpx", "ecosystem": "PyPI"}, "version": version("httpx")}),
}  # fmt: skip


def reachable_service() -> str | None:
    """The first vulnerability service that answers a known release correctly, else None."""
    for service, (method, url, body) in PROBES.items():
        try:
            answer = httpx.request(method, url, json=body, timeout=10)
        except httpx.HTTPError as error:
            print(f"audit-deps: {service}: {type(error).__name__}", file=sys.stderr)
            continue
        if answer.status_code == 200:
            return service
        print(
            f"audit-deps: {service}: HTTP {answer.status_code} for a known release", file=sys.stderr
        )
    return None


def main() -> int:
    service = reachable_service()
    if service is None:
        print(
            "audit-deps: NOT AUDITED: neither PyPI's release JSON API nor OSV is reachable "
            "from this machine; run `make audit-deps` where one is.",
            file=sys.stderr,
        )
        return 2 if os.environ.get("NAVREME_REQUIRE_AUDIT") == "1" else 0
    pip_audit = Path(sys.executable).parent / "pip-audit"
    command = [str(pip_audit), "--progress-spinner", "off", "--skip-editable", "-l", "--strict",
               "-s", service]  # fmt: skip
    print("audit-deps:", " ".join(command[1:]), file=sys.stderr)
    return subprocess.run(command, check=False).returncode  # noqa: S603  # nosec B603 - fixed arguments


if __name__ == "__main__":
    sys.exit(main())
