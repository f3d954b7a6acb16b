"""Lesson 02's exercise checks (`checks`) and widgets (`widgets`)."""
