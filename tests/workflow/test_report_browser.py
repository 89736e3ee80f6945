"""The report after a selection-only run (`snakemake select_all`, no training), opened in headless
Chromium the way a person uses it: click a category in the menu, click each result's eye button,
and check that the picture the report then shows decodes and has content."""

from __future__ import annotations

import json

import pytest

from tests.support import TINY_CONFIG, planned_jobs, snakemake, write_config
from tests.support.chromium import Page

SELECTION_ONLY = {
    "pools": {"demo": {"source": {"kind": "demo", "n": 60, "seed": 0, "heldout_n": 10}}},
    "models": TINY_CONFIG["models"],  # named by the grid, never built by select_all
    "methods": {"random": {"kind": "random", "seed": 0}, "longest": {"kind": "longest"},
                "zip": {"kind": "zip", "k1": 30, "k2": 10, "k3": 5}},
    "experiments": [{"pools": ["demo"], "methods": ["random", "longest", "zip"],
                     "budgets": [10, 20], "base_models": ["tiny"]}],
    "eval": {"bpc": {"corpora": []}},
}
PLOTS = {f"results/plots/selections/demo/{name}.png": label for name, label in (
    ("overlap", "overlap (Jaccard)"), ("rank_agreement", "rank agreement (Spearman)"),
    ("distributions", "length and source mix"))}

# Page helpers. `show(category, label)` clicks the menu entry, then the eye button of the row
# whose cells hold `label`, waits for the picture the report shows and returns what the browser
# made of it: whether it decoded, its size, and the share of pixels that are not background.
HELPERS = """
window.sieve = {
  sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
  async until(condition, what) {
    for (let i = 0; i < 200; i++) {
      const value = condition();
      if (value) return value;
      await this.sleep(50);
    }
    throw new Error("timed out waiting for " + what);
  },
  async menu(category) {
    document.querySelector("nav ol a").click();  // home: back to the menu
    const item = await this.until(() => [...document.querySelectorAll("nav ul a")]
      .find((a) => a.textContent.trim() === category), "menu entry " + category);
    item.click();
  },
  rows() {
    return [...document.querySelectorAll("nav table tbody tr")];
  },
  async show(category, label) {
    await this.menu(category);
    const row = await this.until(
      () => this.rows().find((r) => r.innerText.includes(label)), label + " in " + category);
    row.querySelector("a[iconname=eye]").click();
    const img = await this.until(() => [...document.images].find(
      (i) => !i.closest("nav") && i.src === results[app.state.resultPath].data_uri), label);
    const shown = {path: app.state.resultPath, decoded: true};
    try { await img.decode(); } catch (err) { shown.decoded = false; }
    shown.width = img.naturalWidth;
    shown.height = img.naturalHeight;
    shown.visible = img.getBoundingClientRect().width;
    shown.ink = 0;
    if (shown.decoded && shown.width > 0) {
      const canvas = document.createElement("canvas");
      canvas.width = shown.width;
      canvas.height = shown.height;
      const context = canvas.getContext("2d");
      context.drawImage(img, 0, 0);
      const pixels = context.getImageData(0, 0, shown.width, shown.height).data;
      let ink = 0;
      for (let p = 0; p < pixels.length; p += 4) {
        if (pixels[p + 3] > 128 && pixels[p] + pixels[p + 1] + pixels[p + 2] < 600) ink++;
      }
      shown.ink = ink / (pixels.length / 4);
    }
    return shown;
  },
  async download(category, label) {
    await this.menu(category);
    const row = await this.until(
      () => this.rows().find((r) => r.innerText.includes(label)), label + " in " + category);
    const link = row.querySelector("a[iconname=eye]");
    return await (await fetch(link.href)).text();
  },
};
true
"""


def rendered(shown: dict) -> bool:
    """Decoded, laid out on the page, and drawn: axes, cells and labels, not a blank canvas."""
    return (shown["decoded"] and shown["width"] >= 600 and shown["height"] >= 250
            and shown["visible"] > 300 and shown["ink"] > 0.03)


@pytest.fixture(scope="module")
def selection_report(tmp_path_factory):
    """A selection-only run of three methods at two budgets on a 60-record pool, and its report."""
    workdir = tmp_path_factory.mktemp("selection-report")
    write_config(workdir, SELECTION_ONLY)
    jobs = planned_jobs(snakemake(workdir, "select_all"))
    assert jobs["selection_plots"] == jobs["selection_table"] == 1
    assert "prepare_model" not in jobs and "train" not in jobs
    snakemake(workdir, "select_all", "--report", "report.html")
    return workdir


@pytest.mark.slow
def test_selection_table_is_built_from_the_manifests(selection_report):
    rows = (selection_report / "results/tables/selections.md").read_text().splitlines()
    assert [c.strip() for c in rows[0].split("|")[1:-1]] == [
        "pool", "method", "budget", "requested", "selected", "mean turns", "mean response chars",
        "mean conversation chars", "compression ratio", "ZIP compression ratio", "source mix",
        "manifest"]
    cells = [[c.strip() for c in row.split("|")[1:6]] for row in rows[2:]]
    assert cells == [["demo", m, b, b, b] for m in ("random", "longest", "zip")
                     for b in ("10", "20")]
    manifest = json.loads((selection_report / "results/selections/demo/zip/20/manifest.json")
                          .read_text())
    assert f"{manifest['stats']['compression_ratio']:.3f}" in rows[-1]


@pytest.mark.slow
def test_report_plots_render_in_headless_chromium(selection_report, tmp_path):
    with Page((selection_report / "report.html").as_uri()) as page:
        page.wait_for("typeof app !== 'undefined' && document.querySelector('nav ul a')")
        page.evaluate(HELPERS)
        for path, label in PLOTS.items():
            shown = page.evaluate(f"sieve.show('Selections', {json.dumps(label)})")
            assert shown["path"] == path
            assert rendered(shown), shown
            screenshot = tmp_path / f"{label.split()[0]}.png"
            page.screenshot(screenshot)
            assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        table = page.evaluate("sieve.download('Tables', 'selections.csv')")
        assert table.startswith("pool,method,budget,requested,selected,mean turns,")
        assert len(table.splitlines()) == 7
        # The check fails on a picture that does not render: a truncated PNG (whose header
        # still gives Chromium its size).
        page.evaluate("results['results/plots/selections/demo/overlap.png'].data_uri = "
                      "results['results/plots/selections/demo/overlap.png'].data_uri"
                      ".slice(0, 400); true")
        broken = page.evaluate("sieve.show('Selections', 'overlap (Jaccard)')")
        assert broken["path"].endswith("overlap.png") and not rendered(broken), broken
