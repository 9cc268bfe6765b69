"""Our dependencies' warnings that no user can act on, silenced one by one by their exact message.

Imported by `settings.py`, which Kedro reads before any command runs (and before it loads plugin commands such
as kedro-mlflow's). Never a blanket filter: every other warning is shown as usual.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

# Deprecations inside omegaconf (via Kedro and kedro-mlflow) and FastAPI (via kedro-viz), on every command.
DEPRECATIONS = (r"register_new_resolver\(\) is deprecated", r".*on_event is deprecated")
# mlflow's advice about type hints on kedro-mlflow's pipeline model, raised when `kedro` loads the plugin's CLI.
# mlflow raises it under its own "once" filter, which overrides any filter of ours: it is dropped where it is
# shown instead (Python's warning display, and Kedro's `py.warnings` log when warnings go to the log).
MLFLOW_TYPE_HINT_ADVICE = "Add type hints to the `predict` method"


class _DropMlflowTypeHintAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return MLFLOW_TYPE_HINT_ADVICE not in record.getMessage()


def _showwarning_without_advice(show: Any) -> Any:
    def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings API
        if MLFLOW_TYPE_HINT_ADVICE not in str(message):
            show(message, category, filename, lineno, file, line)

    showwarning.without_mlflow_advice = True
    return showwarning


def silence() -> None:
    for message in DEPRECATIONS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
        warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
    logging.getLogger("py.warnings").addFilter(_DropMlflowTypeHintAdvice())
    if not getattr(warnings.showwarning, "without_mlflow_advice", False):
        warnings.showwarning = _showwarning_without_advice(warnings.showwarning)
