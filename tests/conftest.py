import pytest

from slt_bench.tasks import load_catalog


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()
