"""What a run says: log filters, the run summary, experiment progress."""
