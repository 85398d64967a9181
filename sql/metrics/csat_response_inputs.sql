-- The inputs of metrics/csat_rates.sql and metrics/csat_wilson.sql for a survey-language cell, from the
-- response sums `cs` (metrics/csat_response_sums.sql) joined to the roster: a language without
-- responses in the period has counts 0 (its rates are then null) and is not provisional.
coalesce(cs.csat_top2_num, 0) as csat_top2_num,
coalesce(cs.csat_top2_den, 0) as csat_top2_den,
coalesce(cs.csat_mean_num, 0) as csat_mean_num,
coalesce(cs.csat_mean_den, 0) as csat_mean_den,
coalesce(cs.csat_provisional, false) as provisional
