"""``modelhealthd demo``: the whole loop on a digits classifier, with no config needed."""
