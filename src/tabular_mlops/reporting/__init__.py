"""The pull-request report."""
