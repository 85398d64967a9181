"""Helpers of the Asterisk queue_log dialect (`pipeline.ingest.dialects.asterisk_queue_log`).

- `events`: one queue_log line → an `Event` (or a located `Problem`), tolerant of the field
  counts of Asterisk 1.2 to 20+.
- `machine`: the event state machine: queue stints and agent segments → canonical `calls` rows,
  login and pause intervals → `agent_states` rows, first sightings of agents → auto-registered
  `operators` and `operator_identities` rows.
- `tail`: the live, growing log: offset and prefix hash per source, rotation, and the machine's
  state kept (encrypted) in the warehouse between reads.

See docs/formats/asterisk-queue-log.md for the fields used and every assumption.
"""
