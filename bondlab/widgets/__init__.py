"""ipywidgets panels for the notebooks, one module per topic. Each returns a panel exposing ``.controls``, its outputs and ``.widget``."""
