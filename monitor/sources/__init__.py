"""Where a check's inputs come from: serving metrics (scrape or Prometheus), prediction logs and labels."""
