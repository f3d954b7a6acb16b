"""Lesson 03's exercise checks and figures: a tiny transformer, reverse-engineered by hand.

``checks``: one head, the one-layer forward pass, the predictions about the
trained model, the last-member head; ``induction_checks``: the previous-token
and induction heads, the two-copies prediction, the diagnosis of broken heads;
``figures``: the lesson's figures in the course style.
"""
