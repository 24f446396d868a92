"""The computation beside the chain: field, curve and shares -> net -> preprocessing -> engine -> analytics -> auditable."""
