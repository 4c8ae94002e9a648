"""The serving process (`ferbench serve`): registered models kept warm, faces found and classified.

Shell: it may import Keras and OpenCV; the API forwards POST /predict here and never imports it.
"""
