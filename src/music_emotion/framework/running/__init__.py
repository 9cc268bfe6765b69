"""How runs run: the Dask runner, bound node functions, run parameters, Kedro internals, locks."""
