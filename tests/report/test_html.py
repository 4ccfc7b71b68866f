"""The static HTML report, opened from file:// in Debian's chromium (driven by Selenium), and the
ranking rule on a hand-made store."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from slt_bench.report import leaderboard
from slt_bench.report.html import write_site
from slt_bench.runner import LocalExecutor, execute, expand_generalisation, expand_grid
from slt_bench.store import ResultStore

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def site(tmp_path_factory, catalog):
    """A small real store (λ̂ cells of two methods on four tasks, a failing cell, a generalisation
    cell) and the site written from it."""
    root = tmp_path_factory.mktemp("site")
    store = ResultStore(root / "store.sqlite")
    cells = expand_grid(catalog, "sgld", ["nc/k1-2", "rrr/m3-n3-h3-r1"], "all", 2, 1000, "smoke", "multi-beta")
    cells += expand_grid(catalog, "laplace", ["regular/d2", "rrr/m3-n3-h3-r1"], "all", 1, 1000, "smoke", "multi-beta")
    cells += expand_grid(catalog, "sgld", ["nc/k1-2"], "all", 1, 1000, "smoke", "variance",
                         overrides={"step_size": 1e3})  # a cell that fails (unmixed or nan)
    cells += expand_generalisation(catalog, "map", ["regular/d2"], "all", 2, [100, 200, 400], 500, "smoke")
    execute(cells, store, executor=LocalExecutor(1))
    out = root / "html"
    index = write_site(store.rows(), out, lambda r: store.traces(r["row_id"]), "test")
    return index, store


def test_every_page_and_plot_is_written(site):
    index, store = site
    root = index.parent
    assert (root / "methods" / "sgld.html").is_file() and (root / "methods" / "laplace.html").is_file()
    assert (root / "tasks" / "rrr__m3-n3-h3-r1.html").is_file()
    for name in ("index-rlct.svg", "index-cost.svg", "task-nc__k1-2-fits.svg", "task-rrr__m3-n3-h3-r1-traces.png",
                 "task-regular__d2-generalisation.svg", "method-sgld-rlct.svg"):
        assert (root / "plots" / name).stat().st_size > 1000, name
    text = index.read_text()
    assert "https://" not in text and "http://" not in text  # nothing to fetch: it opens offline
    assert "Ranking." in text and "unmixed" in text


def _browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        message = "Debian's chromium and chromium-driver are not installed (make browser installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def _check_plots(driver) -> int:
    images = driver.find_elements("css selector", "img")
    for img in images:
        loaded = driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img)
        box = img.rect
        assert loaded and box["width"] > 0 and box["height"] > 0, img.get_attribute("src")
    return len(images)


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_the_site_in_a_real_browser(site, tmp_path):
    index, _ = site
    driver = _browser()
    try:
        driver.get(index.as_uri())
        assert driver.title == "slt-bench leaderboard"
        assert _check_plots(driver) >= 2
        table = driver.find_element("id", "leaderboard")

        def column(name: str) -> list[str]:
            headers = [h.text for h in table.find_elements("css selector", "thead th")]
            i = headers.index(name)
            return [r.find_elements("css selector", "td")[i].text
                    for r in table.find_elements("css selector", "tbody tr")]

        before = column("family")
        header = next(h for h in table.find_elements("css selector", "thead th") if h.text.startswith("family"))
        header.click()
        ascending = column("family")
        header.click()
        descending = column("family")
        assert ascending == sorted(before) and descending == sorted(before, reverse=True)
        assert descending != ascending  # clicking reordered the rows
        select = driver.find_element("css selector", "select[name=family]")
        select.find_element("css selector", "option[value=regular]").click()
        shown = [r for r in table.find_elements("css selector", "tbody tr") if r.is_displayed()]
        assert shown and all(r.get_attribute("data-family") == "regular" for r in shown)
        driver.save_screenshot(str(tmp_path / "index.png"))
        assert (tmp_path / "index.png").stat().st_size > 10_000
        assert _errors(driver) == []
        driver.find_element("link text", "laplace").click()
        assert driver.title == "Method laplace" and driver.current_url.endswith("methods/laplace.html")
        assert _check_plots(driver) >= 2 and _errors(driver) == []
        driver.find_element("link text", "rrr/m3-n3-h3-r1").click()
        assert driver.title == "Task rrr/m3-n3-h3-r1"
        assert _check_plots(driver) >= 2 and _errors(driver) == []
        driver.save_screenshot(str(tmp_path / "task.png"))
    finally:
        driver.quit()


# ---- the ranking rule ---------------------------------------------------------------------------
def _row(method, key, status="ok", rel=0.05, z=0.5, grad=1e5, **kw):
    base = {"key": key, "task": "regular/d2", "task_version": 1, "task_hash": "h", "family": "regular",
            "method": method, "tier": "standard", "preset_hash": "p-" + method, "estimator": "multi-beta",
            "metric": "rlct", "options": {}, "n": 10000, "status": status, "rel_error": rel, "z": z,
            "finite_rel_error": None, "finite_z": None, "finite_target": None, "finite_status": None,
            "rlct_value": 1.0, "grad_evals": grad, "wall_s": 1.0}
    base.update(kw)
    return base


def test_ranking_rule_on_a_hand_made_store():
    rows = (
        # accurate and healthy
        [_row("accurate", f"a{i}", rel=0.02, z=0.4) for i in range(4)]
        # as accurate but twice the cost: ranks after on the third key
        + [_row("costly", f"c{i}", rel=0.02, z=0.4, grad=2e5) for i in range(4)]
        # huge standard errors: always within 3 SE, but its errors are large: ranks below
        + [_row("vague", f"v{i}", rel=0.40, z=0.1) for i in range(4)]
        # its good cells are the most accurate, but it fails on three of four: ranks last
        + [_row("fragile", "f0", rel=0.001, z=0.1)] + [_row("fragile", f"f{i}", status="unmixed") for i in (1, 2, 3)]
    )
    table = leaderboard(rows)
    assert list(table["method"]) == ["accurate", "costly", "vague", "fragile"]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert math.isinf(table.set_index("method").loc["fragile", "rank_error"])
    assert table.set_index("method").loc["vague", "within_3se"] == 1.0  # calibrated, yet ranked below


def test_report_html_and_baseline_through_the_cli(cli, site, tmp_path):
    _, store = site
    mine = ResultStore(tmp_path / "mine.sqlite")  # a plug-in author's store: only their method
    row = next(r for r in store.rows() if r["method"] == "sgld" and r["status"] == "ok")
    mine.put({**row, "key": "mine-1", "method": "my-sampler"})
    out = cli("report", "--store", str(mine.path), "--baseline", str(store.path), "--html", str(tmp_path / "h"),
              "--format", "json")
    assert out.code == 0, out.err
    import json

    records = json.loads(out.out)
    assert {"my-sampler", "sgld", "laplace"} <= {r["method"] for r in records}
    text = (tmp_path / "h" / "index.html").read_text()
    assert "baseline store.sqlite" in text and "this store" in text and "my-sampler" in text
    filtered = cli("report", "--store", str(mine.path), "--baseline", str(store.path), "--method", "my-sampler",
                   "--format", "csv")
    assert filtered.code == 0 and filtered.out.count("\n") == 2  # header and one leaderboard row
