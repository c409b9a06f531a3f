"""Audio features: decoding, log-mel spectrograms and their content-hash cache."""
