"""Interactive ipywidgets explorers, one module per lesson idea."""
