"""Refuse to deploy a commit that the test build has not passed.

The deploy build (cloudbuild.deploy.yaml) is started by a Pub/Sub message naming a test build.
It trusts nothing in that message: it asks the Cloud Build API for the build and pipes the
answer here, with the test trigger's id (from Terraform) and the commit it checked out.

    gcloud builds describe BUILD_ID --region=REGION --format=json \\
      | python3 scripts/verify_tests_passed.py --trigger TEST_TRIGGER_ID --commit COMMIT_SHA

Exit 0 only when that build was started by the test trigger, tested this very commit, and
succeeded; otherwise exit 1 and say which of the three failed. Standard library only: the
deploy build installs no packages.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, TextIO

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def problems(build: dict[str, Any], *, trigger: str, commit: str) -> list[str]:
    """Why ``build`` (a Cloud Build ``Build`` resource) does not vouch for ``commit``; empty when it does."""
    found: list[str] = []
    if not _COMMIT.match(commit):
        found.append(f"the commit to deploy is {commit!r}, not a full commit id")
    if not trigger:
        found.append("the test trigger's id is empty")
    build_id = build.get("id", "?")
    if build.get("status") != "SUCCESS":
        found.append(f"test build {build_id} has status {build.get('status')!r}, not 'SUCCESS'")
    if build.get("buildTriggerId") != trigger:
        found.append(f"test build {build_id} was started by trigger {build.get('buildTriggerId')!r}, not {trigger!r}")
    tested = (build.get("substitutions") or {}).get("COMMIT_SHA")
    if tested != commit:
        found.append(f"test build {build_id} tested commit {tested!r}, not {commit!r}")
    return found


def main(argv: list[str] | None = None, stdin: TextIO = sys.stdin) -> int:
    parser = argparse.ArgumentParser(description="Check that a Cloud Build test build passed for this commit.")
    parser.add_argument("--trigger", required=True, help="id of the test trigger")
    parser.add_argument("--commit", required=True, help="the commit about to be deployed")
    args = parser.parse_args(argv)
    try:
        build = json.load(stdin)
    except json.JSONDecodeError as exc:
        print(f"error: the Cloud Build API's answer is not JSON: {exc}", file=sys.stderr)
        return 1
    if not isinstance(build, dict):
        print("error: the Cloud Build API's answer is not a build", file=sys.stderr)
        return 1
    found = problems(build, trigger=args.trigger, commit=args.commit)
    for problem in found:
        print(f"refusing to deploy: {problem}", file=sys.stderr)
    if not found:
        print(f"test build {build['id']} passed for commit {args.commit}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
