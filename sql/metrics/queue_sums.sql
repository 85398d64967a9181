-- Sums over queue stints `q` of one cell (queue × period, or a team's contacts in its queues): the inputs of metrics/queue_rates.sql
count(q.stint_id) filter (where q.is_offered) as offered,
count(q.stint_id) filter (where q.outcome = 'answered') as answered,
count(q.stint_id) filter (where q.outcome = 'abandoned') as abandoned,
count(q.stint_id) filter (where q.is_short_abandon) as short_abandoned,
count(q.stint_id) filter (where q.outcome = 'timeout') as timeout,
count(q.stint_id) filter (where q.outcome = 'key_exit') as key_exit,
count(q.stint_id) filter (where q.outcome = 'empty') as empty,
count(q.stint_id) filter (where q.outcome = 'in_progress') as in_progress_n,
count(q.stint_id) filter (where q.is_answered_in_sl) as service_level_num,
cast(coalesce(sum(q.wait_ms) filter (where q.outcome = 'answered'), 0) as bigint) as asa_num_ms,
count(q.wait_ms) filter (where q.outcome = 'answered') as asa_den,
coalesce(bool_or(q.provisional), false) as queue_provisional
