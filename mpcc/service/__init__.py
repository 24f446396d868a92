"""The preprocessing service (``mpcc preprocess serve``): deals, seals, commits and serves tuples."""
