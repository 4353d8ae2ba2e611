"""The case engine: work orders for every follow-up (12345 appeals, enterprise appeals, grid
reports, dispatched alerts), with deadlines on China's working-day calendar (issue 14)."""
