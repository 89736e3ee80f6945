"""Citations of docs/methods.md resolve: every "methods.md §x.y" in the repository's code, rules
and docs names a numbered heading of docs/methods.md, and every link to one of its anchors names
a heading."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support import ROOT, SNAKEMAKE

METHODS = ROOT / "docs" / "methods.md"
SECTION = r"§\s*\d+(?:\.\d+)?(?:\s*[-–]\s*\d+(?:\.\d+)?)?"  # §1.3, §3.1–3.2, §2.1-2.2
# "methods.md §2.1, §2.2" and "methods.md §1.2 and §1.3" cite every section listed.
CITATION = re.compile(rf"methods\.md\s+({SECTION}(?:(?:,|\s+and)\s+{SECTION})*)")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
ANCHOR_LINK = re.compile(r"\]\((?:[^)\s#]*/)?methods\.md#([^)\s]+)\)")


def repository_files() -> list[Path]:
    """Python, Snakemake and Markdown files as a clone has them (tracked and new, not ignored),
    this test's own file (whose patterns look like citations) excepted."""
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout
    paths = [ROOT / name for name in filter(None, names.split("\0"))]
    return [p for p in paths if p.is_file() and p != Path(__file__).resolve()
            and (p.suffix in (".py", ".smk", ".md") or p.name == "Snakefile")]


def lines_with(pattern: str) -> list[tuple[str, str]]:
    """(file:line, text) of every line of the repository's files containing `pattern`."""
    hits = []
    for path in repository_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern in line:
                hits.append((f"{path.relative_to(ROOT)}:{number}", line))
    return hits


def headings() -> list[str]:
    return HEADING.findall(METHODS.read_text(encoding="utf-8"))


def section_numbers() -> set[str]:
    """The numbers of docs/methods.md's numbered headings ("## 1. ZIP" -> "1", "### 1.3 …")."""
    return {m.group(1) for h in headings() if (m := re.match(r"(\d+(?:\.\d+)*)\.?\s", h))}


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_citation_names_a_section_of_docs_methods_md():
    sections = section_numbers()
    cited, dangling = 0, []
    for where, line in lines_with("methods.md"):
        for match in CITATION.finditer(line):
            for number in NUMBER.findall(match.group(1)):
                cited += 1
                if number not in sections:
                    dangling.append(f"{where}: §{number}")
    assert cited >= 20, "the citations were not found; has the citation style changed?"
    assert not dangling, f"no such heading in docs/methods.md: {dangling}"


def test_citations_name_the_file_in_the_repository():
    outside = [where for where, line in lines_with("methods.md")
               for match in CITATION.finditer(line)
               if not line[: match.start()].endswith("docs/")]
    assert not outside, f"cite docs/methods.md (the file in this repository): {outside}"


def test_code_cites_sections_only_with_the_file_name():
    """A bare "§3.5" in code cannot be checked (or found) later; write docs/methods.md §3.5."""
    bare = [where for where, line in lines_with("§")
            if not where.split(":")[0].endswith(".md") and "§" in CITATION.sub("", line)]
    assert not bare, f"section sign without 'docs/methods.md' before it: {bare}"


def test_links_to_docs_methods_md_name_a_heading():
    anchors = {github_anchor(h) for h in headings()}
    links = [(where, anchor) for where, line in lines_with("methods.md#")
             for anchor in ANCHOR_LINK.findall(line)]
    assert links, "no links to docs/methods.md anchors found"
    broken = [f"{where}: #{anchor}" for where, anchor in links if anchor not in anchors]
    assert not broken, f"no such heading in docs/methods.md: {broken}"


def test_every_target_rule_says_what_it_builds_and_internal_ones_say_so():
    listed = subprocess.run([*SNAKEMAKE, "--list-target-rules"], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout.splitlines()
    rules = dict(line.split(" ", 1) if " " in line else (line, "") for line in listed)
    assert rules and [name for name, doc in rules.items() if not doc] == []
    internal = {name for name, doc in rules.items() if doc.startswith("(Internal step of ")}
    assert internal == {"alpaca_eval_data", "collect_metrics", "lmeval_tasks", "mtbench_data",
                        "pairwise_data", "selection_table"}
