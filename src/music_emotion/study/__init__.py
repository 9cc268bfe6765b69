"""The science of one study: arms (what each model trains on), augmentations, the fine-tuning loop,
evaluation and metrics, paired statistics, lineage fingerprints. Pure functions over data and models; the
pipelines wire them, nothing here knows Kedro."""
