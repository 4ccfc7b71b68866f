"""Errors a user can act on. The CLI prints their message on one line and exits with code 2."""


class SltBenchError(ValueError):
    """Bad input: the message says what was wrong and what is valid."""


class CatalogError(SltBenchError):
    """A malformed or inconsistent catalogue file."""


class UnknownNameError(SltBenchError):
    """An unknown task, method, estimator, suite or tier."""


class BudgetExceeded(Exception):
    """Raised by a target when a method asks for more gradient evaluations than its budget."""
