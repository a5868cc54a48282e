"""The four scenarios of `make bench`."""
