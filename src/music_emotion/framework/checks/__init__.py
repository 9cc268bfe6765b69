"""Pre-flight checks: parameter names and values, renamed names, dependency warnings, user errors."""
