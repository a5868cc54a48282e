"""Baseline servers the product is compared with in the same run."""
