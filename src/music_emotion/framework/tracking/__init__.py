"""MLflow tracking: the run, its records and its setup."""
