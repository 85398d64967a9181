-- The inputs of metrics/queue_rates.sql for a queue cell, from the queue sums `qs` joined to the
-- roster (a cell without stints has no sums row: counts become 0)
coalesce(qs.offered, 0) as offered,
coalesce(qs.answered, 0) as answered,
coalesce(qs.abandoned, 0) as abandoned,
coalesce(qs.short_abandoned, 0) as short_abandoned,
coalesce(qs.timeout, 0) as timeout,
coalesce(qs.key_exit, 0) as key_exit,
coalesce(qs.empty, 0) as empty,
coalesce(qs.in_progress_n, 0) as in_progress_n,
coalesce(qs.service_level_num, 0) as service_level_num,
coalesce(qs.asa_num_ms, 0) as asa_num_ms,
coalesce(qs.asa_den, 0) as asa_den,
coalesce(qs.queue_provisional, false) as provisional
