"""Channels between parties: the abstract async transport and its in-memory implementation."""
