"""A learner's data rights (app label ``privacy``): export everything the platform holds about them,
delete the account and all of it, opt out of training, each action audited without keeping the data.

Layer: above :mod:`curriculum` and :mod:`audio` (it gathers what every app holds), below the project.
"""
