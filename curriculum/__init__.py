"""Curriculum: concepts, prerequisites, learner progress, learning paths and next steps."""
