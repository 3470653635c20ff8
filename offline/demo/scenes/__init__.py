"""The demo's scenes: `invocation_logs` (a run distilled from the teacher's logged traffic, its job wait released
by the job's event, its student served as the Region allows and judged against its teacher; played once per
pair), `upload` (an upload starts a run with its settings file), `forgotten_pt` (a stopped run's PT deleted by the
execution-end rule, then one sweep finding nothing)."""
