"""The computation beside the chain: field, shares -> net -> preprocessing -> engine -> analytics -> auditable."""
