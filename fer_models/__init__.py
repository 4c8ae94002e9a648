"""The ML core of FER Bench: datasets, model zoo, training, evaluation, MLflow logging.

Importing this package (or its catalogue modules) never imports TensorFlow or Keras;
only building, training and evaluating models does, lazily.
"""
