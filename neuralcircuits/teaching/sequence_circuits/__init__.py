"""Lesson 04's exercise checks (`checks`) and widgets (`widgets`)."""
