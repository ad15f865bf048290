"""A :class:`Dataset`: data opened for fitting or prediction, with its source."""


class Dataset:
    """Data opened by :func:`~fastgd.open_dataset`, ready for ``fit`` and ``predict``.

    Attributes
    ----------
    source : the :class:`~fastgd.data.base.Source` that serves the rows
    target, weight : str or None, the column names
    columns : list of str or None, every column of a table
    description : str
    """

    def __init__(self, source, description, target=None, weight=None, columns=None):
        self.source = source
        self.description = description
        self.target = target
        self.weight = weight
        #: Every column of the underlying table (None for arrays).
        self.columns = columns
        #: What it was opened from, to open it again with other features.
        self.origin = None

    def select(self, features):
        """The same data (target and weight included) with these feature columns, in this order."""
        if self.origin is None or list(features) == list(self.feature_names or []):
            return self
        from .open import open_dataset

        return open_dataset(self.origin, target=self.target, features=list(features), weight=self.weight)

    @property
    def n_rows(self):
        return self.source.n_rows

    @property
    def n_features(self):
        return self.source.n_features

    @property
    def feature_names(self):
        return self.source.feature_names

    def __repr__(self):
        return (
            f"<fastgd.Dataset {self.description}: {self.n_rows:,} rows x {self.n_features} "
            f"features ({self.source.dtype}), target={self.target!r}>"
        )
