"""Accounts (app label ``accounts``): the curator group and the demo curator login.

Layer: just above :mod:`core`, beside :mod:`catalog`.
"""
