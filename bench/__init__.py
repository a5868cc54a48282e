"""Load harness: the product's deployment measured against bare baselines in one run (`make bench`)."""
