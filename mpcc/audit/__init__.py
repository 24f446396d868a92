"""The auditor: a job's record checked from chain data alone, and its result verified in public."""
