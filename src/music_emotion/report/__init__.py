"""What a run shows a reader: the figure style every figure shares, number formatting and markdown tables,
and the report archive (one zip with a manifest, refusing outputs of different runs)."""
