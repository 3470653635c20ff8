"""The distillation workflow's domain: what each state of the state machine does."""
