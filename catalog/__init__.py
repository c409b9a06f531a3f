"""The product catalogue (app label ``catalog``): artists, listeners, listens, tags, courses, works, and
the learner's own interactions and interests, with their selectors.

Layer: just above :mod:`core`; it knows nothing of the graph, the recommender or the web.
"""
