"""HFN, the Harmonious Feedback Network: feedback dimensions and affect from a performance's spectrogram.

config (settings, variants registry), model (the network), dataset (generated performances and their
features), baseline (the rule baseline from DTW features), training (fit, early stopping, evaluation,
prediction), artifacts (versioned save/load).
"""
