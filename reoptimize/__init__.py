"""Re-optimization: jobs that build candidate models, measure them against the champion, gate and register them."""
