"""Natural-language music requests: parse them into graph entities and constraints, then answer them."""
