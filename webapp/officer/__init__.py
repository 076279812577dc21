"""Officers (railway staff, station police, traffic police, reviewers, administrators), API keys, paper certificates."""
