"""Loaders that turn shared data files into catalog rows and graph facts (one module per data set)."""
