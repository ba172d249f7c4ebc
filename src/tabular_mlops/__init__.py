"""A CI/CD/CT template for tabular ML: core, DVC stages, continuous training, serving, reporting."""
