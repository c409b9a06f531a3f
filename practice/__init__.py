"""Practice feedback: a learner records a piece and gets located, kind feedback tied to the curriculum."""
