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
        #: How its categorical columns were coded (a :class:`~fastgd.data.categorical.Coding`).
        self.coding = None

    def select(self, features, coding=None):
        """The same data (target and weight included) with these feature columns,
        in this order, its categorical columns coded by ``coding`` (by default as they are)."""
        coding = coding or self.coding
        same = list(features) == list(self.feature_names or []) and coding == self.coding
        if self.origin is None or same:
            return self
        from .open import open_dataset

        return open_dataset(self.origin, target=self.target, features=list(features), weight=self.weight, coding=coding)

    @property
    def n_rows(self):
        return self.source.n_rows

    @property
    def n_features(self):
        return self.source.n_features

    @property
    def feature_names(self):
        """The feature columns (a categorical column is one name)."""
        return self.source.input_names

    def __repr__(self):
        return (
            f"<fastgd.Dataset {self.description}: {self.n_rows:,} rows x {self.n_features} "
            f"features ({self.source.dtype}), target={self.target!r}>"
        )
