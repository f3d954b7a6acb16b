"""Lesson 03's exercise checks and figures: a tiny transformer, reverse-engineered by hand."""
