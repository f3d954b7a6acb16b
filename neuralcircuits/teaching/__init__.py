"""The teaching layer: what a learner touches. Imports science only.

One subpackage per lesson idea, each with its ``checks`` (one pass line or one
sentence naming the mistake) and ``widgets``: ``linear_algebra`` (lesson 01),
``relu_circuits`` (lesson 02), ``tiny_transformer`` (lesson 03),
``sequence_circuits`` (lesson 04). Shared by
all: ``checking`` (the check helpers), ``figures`` (the course's figure style)
and ``media`` (a lesson's video in its notebook).
"""
