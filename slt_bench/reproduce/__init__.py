"""Reproductions of published experiments: ``slt-bench reproduce <paper>``."""

PAPERS = ("murfet2020",)
