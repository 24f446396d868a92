"""The demo (``mpcc demo``): a whole consortium in one process, on the in-process chain."""
