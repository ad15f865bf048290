"""scikit-learn-style estimators: parameters, lifecycle, prediction."""
