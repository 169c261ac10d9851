"""The daemon's durable facts: checks, rule states, jobs, promotions, the decision log and labels."""
