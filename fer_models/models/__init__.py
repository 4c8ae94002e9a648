"""The model zoo: a TF-free catalogue (`registry`) and one lazily imported builder module per family."""
