"""Lesson 03's exercise checks (`checks`) and widgets (`widgets`)."""
