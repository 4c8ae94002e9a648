"""Datasets: sources, cache, splits, reports, the input pipeline, augmentation and TTA."""
