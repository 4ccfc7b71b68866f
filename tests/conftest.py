import hashlib
from pathlib import Path

import pytest

from slt_bench.tasks import load_catalog


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.strip().splitlines() if line.strip()]


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the command line in this process (fast): ``cli("run", "--method", ...)`` → CliResult.

    Exceptions other than the CLI's own exits propagate, so a traceback fails the test.
    """
    from slt_bench.cli import cli as entry

    def invoke(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            entry(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


def file_digest(path: Path) -> str | None:
    """sha256 of a file's bytes (None if absent): 'left untouched' means this is unchanged."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def assert_one_error_line(result: CliResult, fragment: str = "") -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    lines = result.error_lines
    assert len(lines) == 1 and lines[0].startswith("error:"), result.err
    assert "Traceback" not in result.err
    assert fragment in lines[0], (fragment, lines[0])

