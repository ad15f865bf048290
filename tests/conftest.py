import pytest

from .datasets import make_classification, make_regression


@pytest.fixture
def regression():
    return make_regression(2000, 5)


@pytest.fixture
def classification():
    return make_classification(2000, 5)
