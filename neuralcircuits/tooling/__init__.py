"""The course's tooling: lesson generation, notebooks, videos, the course runner, benchmarks.

Imports science and teaching only through their public functions.
"""
