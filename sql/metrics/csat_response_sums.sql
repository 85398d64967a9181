-- Sums over CSAT response facts `r` of one cell (survey language × period), grouped by the caller: the
-- inputs of metrics/csat_rates.sql and metrics/csat_wilson.sql, counted per response as
-- int_csat__segments counts them per segment (top box by scale; the mean over 1–5 responses only).
count(r.response_id) filter (where r.is_top_box) as csat_top2_num,
count(r.response_id) as csat_top2_den,
cast(coalesce(sum(r.score_value) filter (where r.scale = '1-5'), 0) as bigint) as csat_mean_num,
count(r.response_id) filter (where r.scale = '1-5') as csat_mean_den,
coalesce(bool_or(r.provisional), false) as csat_provisional
