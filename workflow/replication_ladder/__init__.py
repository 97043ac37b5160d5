"""Replication Ladder: a ladder of Bayesian models for replication studies."""
