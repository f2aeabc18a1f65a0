"""``python -m quench ...`` runs the quench CLI shipped inside the package (quench/bin/quench)."""

import os
import sys


def main() -> None:
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "quench")
    if not os.access(exe, os.X_OK):
        sys.exit(f"quench: the CLI is missing from the package ({exe}); reinstall quench")
    os.execv(exe, [exe] + sys.argv[1:])


if __name__ == "__main__":
    main()
