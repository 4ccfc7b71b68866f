"""A third-party method, exactly as the README's "Add your method" shows it, found through the
``slt_bench.methods`` entry-point group and run end to end."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_files() -> dict[str, str]:
    """The code blocks of the README's plug-in section, keyed by the file name above each."""
    text = README.read_text()
    section = text.split("## Add your method", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"`rwm_plugin/([\w.]+)`\n\n```\w+\n(.*?)```", section, flags=re.S))


@pytest.fixture()
def plugin_path(tmp_path):
    """Install the README's plug-in into a temporary directory: its module plus a dist-info with
    the entry points its pyproject declares (what ``pip install`` would write)."""
    files = _readme_files()
    assert set(files) == {"pyproject.toml", "rwm_plugin.py"}
    project = tomllib.loads(files["pyproject.toml"])["project"]
    (tmp_path / "rwm_plugin.py").write_text(files["rwm_plugin.py"])
    info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = ["[slt_bench.methods]"] + [f"{k} = {v}" for k, v in project["entry-points"]["slt_bench.methods"].items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("rwm_plugin", None)


def test_plugin_is_found_by_the_registry(plugin_path):
    from slt_bench.methods import get_method, method_names

    assert "rwm" in method_names()
    cls = get_method("rwm")
    assert cls.__module__ == "rwm_plugin" and cls.name == "rwm"


def test_plugin_runs_end_to_end_through_the_cli(plugin_path, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_path), os.environ.get("PYTHONPATH", "")])}
    cli = [sys.executable, "-m", "slt_bench.cli"]
    listed = subprocess.run(cli + ["list", "methods"], env=env, capture_output=True, text=True, check=True)
    assert re.search(r"^rwm\s+rwm_plugin:RandomWalk$", listed.stdout, flags=re.M)
    store = tmp_path / "results.sqlite"
    out = subprocess.run(cli + ["run", "--method", "rwm", "--task", "regular/d2", "--store", str(store), "--json"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["method"] == "rwm" and row["status"] == "ok"
    # regular/d2: λ = d/2 = 1; a working sampler lands within 3 SE of the finite-n target
    assert abs(row["rlct_hat"] - row["finite_target"]) <= 3 * row["se"], row
