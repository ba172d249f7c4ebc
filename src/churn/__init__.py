"""Churn MLOps template: a DVC pipeline whose stages are plain modules with pure cores."""
