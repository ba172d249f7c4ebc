"""The DVC pipeline stages, one module per stage: validate, prepare, train, evaluate, track."""
