import pytest


@pytest.fixture
def jdir(tmp_path) -> str:
    return str(tmp_path / "journal")
