"""The README and docs/ are tested like code: every relative link resolves inside the repository,
every `slt-bench` command in a shell block uses options that exist and runs (cheap ones for real,
in a temporary folder, at a small tier), the Markdown report is valid Markdown, and nothing points
outside the repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|<(?:a|img)[^>]*(?:href|src)=\"([^\"#]+)")
FENCE = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.S)

# Commands that are documented but not run here, by what they start with, and why.
SKIPPED = {
    "make ": "the set-up and maintenance targets run the suite itself or take minutes to hours (CI runs `make test`)",
    "pip install": "installs packages (tests/methods/test_plugin.py installs the README's plug-in)",
    ". .venv": "activates the environment this test already runs in",
    "sbatch": "needs a SLURM cluster",
    "python benchmarks/": "studies that take minutes to hours; their outputs are the committed documents",
    "slt-bench reproduce": "hours at tier standard (tests/test_reproduce.py runs it at a tiny scale)",
    "slt-bench reference build": "CPU-hours per task at its default settings (tests/test_reference.py runs it at a tiny scale)",
    "sqlite3": "inspects a store by hand",
    "slt-bench run --method rwm": "needs the README's plug-in installed (tests/methods/test_plugin.py runs it)",
}
# Runs that are executed for real (everything else is validated with --dry-run): cheap at tier smoke.
EXECUTE = ("slt-bench list", "slt-bench theory", "slt-bench report")


def _relative_links(path: Path) -> list[str]:
    text = path.read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # links inside code blocks are examples
    found = []
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        found.append(target.split("#")[0])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(doc):
    for target in _relative_links(doc):
        resolved = (doc.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{doc.name}: {target} points outside the repository"
        assert resolved.exists(), f"{doc.name}: {target} does not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_points_outside_the_repository(doc):
    text = doc.read_text()
    assert "../shared" not in text and "DESIGN.md" not in text and "THEORY.md" not in text


def _commands(doc: Path) -> list[str]:
    """Shell commands of a document's bash blocks: continuation lines joined, comments dropped."""
    out = []
    for block in FENCE.findall(doc.read_text()):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip() if not line.strip().startswith("#") else ""
            if line:
                out.append(line)
    return out


ALL_COMMANDS = [(doc, cmd) for doc in DOCS for cmd in _commands(doc)]


def test_every_documented_command_is_run_or_skipped_by_name():
    for doc, cmd in ALL_COMMANDS:
        assert cmd.startswith("slt-bench ") or any(cmd.startswith(p) for p in SKIPPED) or "=" in cmd.split()[0], \
            f"{doc.name}: {cmd!r} is neither run by this test nor listed in SKIPPED"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A temporary folder with a small store, so that `report` has cells to show."""
    from slt_bench.runner import LocalExecutor, execute, expand_grid
    from slt_bench.store import ResultStore
    from slt_bench.tasks import load_catalog

    folder = tmp_path_factory.mktemp("docs")
    cells = expand_grid(load_catalog(), "sgld", ["nc/k1-2"], "all", 1, 1000, "smoke", "multi-beta")
    execute(cells, ResultStore(folder / "slt_bench_results.sqlite"), executor=LocalExecutor(1))
    return folder


@pytest.mark.parametrize("doc, cmd", [(d, c) for d, c in ALL_COMMANDS if c.startswith("slt-bench ")],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_documented_command_runs(cli, workdir, doc, cmd):
    skip = next((why for prefix, why in SKIPPED.items() if cmd.startswith(prefix)), None)
    if skip:
        if not cmd.startswith("slt-bench run --method rwm"):  # a plug-in's method: not installed here
            _parse_only(shlex.split(cmd)[1:])  # too long to run: its options and values must still parse
        pytest.skip(f"{cmd}: {skip}")
    args = shlex.split(cmd)[1:]
    variables = {}
    for name in re.findall(r"\$(\w+)", cmd):
        variables[name] = _variable(doc, name)
    if variables:
        args = shlex.split(" ".join(_expand(a, variables) for a in shlex.split(cmd)[1:]))
    cwd = workdir
    if not cmd.startswith(EXECUTE):
        if args[0] != "run":
            pytest.fail(f"{doc.name}: {cmd!r} is neither executed nor a run to validate")
        # validated from the repository root, as documented (a dry run reads a store, never writes one)
        args, cwd = [a for a in args if a != "--force"] + ["--dry-run"], ROOT
    out = cli(*args, cwd=cwd)
    assert out.code == 0, f"{doc.name}: `{cmd}` exited {out.code}: {out.err}"


def _parse_only(args: list[str]) -> None:
    """Parse a command line as click would (subcommands resolved, options and their values converted and
    checked), without running it: a misspelt option or a value outside its choices fails here."""
    import click

    from slt_bench.cli import main as group

    line, command, ctx = " ".join(args), group, None
    try:
        while True:
            ctx = command.make_context(command.name or "slt-bench", list(args), parent=ctx)
            if not isinstance(command, click.Group):
                return
            _, command, args = command.resolve_command(ctx, ctx.protected_args + ctx.args)
    except click.ClickException as err:
        pytest.fail(f"`slt-bench {line}` does not parse: {err.format_message()}")


def _variable(doc: Path, name: str) -> str:
    """A shell variable must be defined in the same document, in a bash block (NAME="…")."""
    for line in _commands(doc):
        match = re.match(rf"{name}=(.*)$", line)
        if match:
            return shlex.split(match.group(1))[0] if match.group(1).startswith(("'", '"')) else match.group(1)
    pytest.fail(f"{doc.name}: ${name} is used but never defined in a shell block")


def _expand(arg: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        arg = arg.replace("$" + name, value)
    return arg


def _cells(line: str) -> int:
    """Cells of a GFM table row: split on unescaped pipes, outer pipes not counted."""
    parts = re.split(r"(?<!\\)\|", line.strip())
    return len(parts) - 2 if line.strip().startswith("|") and line.strip().endswith("|") else len(parts)


def test_the_markdown_report_is_valid_markdown(cli, workdir):
    from markdown_it import MarkdownIt

    out = cli("report", cwd=workdir)
    assert out.code == 0
    text = out.out
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    tables = [t for t in tokens if t.type == "table_open"]
    assert tables, "the report has no table a Markdown parser recognises"
    lines = text.splitlines()
    for table in tables:
        start, end = table.map
        rows = [line for line in lines[start:end] if line.strip()]
        header = _cells(rows[0])
        assert all(_cells(row) == header for row in rows), [(_cells(r), r[:60]) for r in rows]
