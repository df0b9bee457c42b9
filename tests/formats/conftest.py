"""Fixtures of the format tests."""

import numpy as np
import pytest
from fmthelpers import crafted_masks


@pytest.fixture
def masks() -> dict[str, np.ndarray]:
    return crafted_masks()
