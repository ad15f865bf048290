"""Step rules, step sizes and the compiled mini-batch epoch."""
