"""Lesson 01's exercise checks (`checks`) and widgets (`widgets`)."""
