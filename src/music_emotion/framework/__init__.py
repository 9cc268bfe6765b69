"""Kedro and MLflow glue: hooks, run parameters, tracking, console and warning handling, pre-flight checks.
The domain packages (audio, data, models, study, gan) never import this package."""
