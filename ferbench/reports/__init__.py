"""Reports made from finished experiments: the write-up's table beside ours (TF-free)."""
