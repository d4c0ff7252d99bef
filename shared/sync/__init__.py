"""Running a user's sync: read both sides, plan with the core, execute, remember."""
