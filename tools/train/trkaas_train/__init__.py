"""trkaas model training: data reading, radius graph, models, metrics (Exa.TrkX-style pipeline)."""
