"""Lesson 04's exercise checks (`checks`, one module per part of the lesson), figures and widgets."""
