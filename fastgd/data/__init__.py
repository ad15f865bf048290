"""Data sources: everything the solver reads arrives as blocks of rows."""

from .arrays import ArraySource
from .arrow import ArrowSource
from .base import Block, Source
from .dataset import Dataset, open_dataset

__all__ = ["ArraySource", "ArrowSource", "Block", "Dataset", "Source", "open_dataset"]
