"""A member's peer daemon (``mpcc peer run``): batches through the sacrifice, jobs through the chain."""
