"""The consortium explorer: a read-only web view of the chain's record (``mpcc explorer``)."""
