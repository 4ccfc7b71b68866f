"""Tables from the store: the run table and the Markdown leaderboard."""

from slt_bench.report.tables import leaderboard_markdown, run_table

__all__ = ["leaderboard_markdown", "run_table"]
