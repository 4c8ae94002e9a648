"""Sweeps (library): the search space (`space`), the Optuna study on the service's database (`study`), the
sweep's progress after each trial (`advance`) and its MLflow parent run (`tracking`). TF-free."""
