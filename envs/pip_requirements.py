"""Print the pip requirements of conda env files (their `pip:` sections), for the local .venv.

The env files are the single source of truth for what is installed. An entry followed by the
comment `# no-deps` is printed only with --no-deps (pip must install it without its dependencies).
Standard library only: this runs before the virtual environment exists.

    python envs/pip_requirements.py envs/core.yaml envs/train.yaml          # regular entries
    python envs/pip_requirements.py --no-deps envs/core.yaml                # no-deps entries
    python envs/pip_requirements.py --only torch envs/core.yaml             # one package's line
"""

from __future__ import annotations

import argparse
import re
import sys


def pip_entries(path: str) -> list[tuple[str, bool]]:
    """(requirement, no_deps) pairs from the `- pip:` list of a conda env file."""
    entries, pip_indent = [], None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            if stripped == "- pip:":
                pip_indent = indent
            elif pip_indent is not None and stripped.startswith("- ") and indent > pip_indent:
                requirement, _, comment = stripped[2:].partition("#")
                entries.append((requirement.strip(), comment.strip() == "no-deps"))
            elif pip_indent is not None and stripped and not stripped.startswith("#"):
                pip_indent = None
    if not entries:
        sys.exit(f"{path}: no pip entries found")
    return entries


def package_name(requirement: str) -> str:
    """Normalised distribution name of a requirement string."""
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--no-deps", action="store_true", help="print the no-deps entries")
    parser.add_argument("--only", help="print only this package's entry")
    args = parser.parse_args(argv)
    seen = set()
    for path in args.files:
        for requirement, no_deps in pip_entries(path):
            name = package_name(requirement)
            if args.only is not None and name != args.only:
                continue
            if (args.only is None and no_deps != args.no_deps) or name in seen:
                continue
            seen.add(name)
            print(requirement)


if __name__ == "__main__":
    main()
