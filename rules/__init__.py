"""Declarative rules: schema, safe expressions, the pending/firing state machine and the guards."""
