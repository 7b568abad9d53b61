"""``python -m devenv.cronjob_base``: write the generic deployable base in ``cronjob/`` from scaffold's builders.

The base is generated rather than written by hand so that it and every ``helmcr scaffold`` output share one
definition of the CronJob; a unit test fails when the committed files and the builders disagree.
"""

from __future__ import annotations

import sys

from devenv.paths import repo_root
from reconcile.scaffold.generate import BASE_ORIGIN, base_files
from reconcile.scaffold.writer import write_files


def main() -> int:
    for path, change in write_files(repo_root() / "cronjob", base_files(), BASE_ORIGIN, force=False):
        print(f"{change.value:>11}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
