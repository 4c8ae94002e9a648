"""The FER Bench HTTP API (FastAPI). Never imports TensorFlow or Keras."""
