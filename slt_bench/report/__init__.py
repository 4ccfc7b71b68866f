"""Tables from the store: the run table, the leaderboard (Markdown, CSV, JSON)."""

from slt_bench.report.tables import (RANKING_RULE, filter_rows, leaderboard, leaderboard_markdown,
                                     leaderboard_records, markdown_table, run_notes, run_table)

__all__ = ["RANKING_RULE", "filter_rows", "leaderboard", "leaderboard_markdown", "leaderboard_records",
           "markdown_table", "run_notes", "run_table"]
