"""What every stage stands on: atomic writes, errors, hashes, paths, seeds, progress,
provenance.
"""
