-- CSAT columns over inputs `m` holding csat_top2_num/_den and csat_mean_num/_den (DESIGN §4 CSAT):
-- the top-box share, the 1–5 mean and the response count; null when the denominator is 0. Included by
-- metrics/cell_rates.sql (operator and team cells) and by the CSAT-by-language mart and report.
case when m.csat_top2_den > 0 then cast(m.csat_top2_num as double) / m.csat_top2_den end as csat_top2_rate,
m.csat_top2_num,
m.csat_top2_den,
case when m.csat_mean_den > 0 then cast(m.csat_mean_num as double) / m.csat_mean_den end as csat_mean,
m.csat_mean_num,
m.csat_mean_den,
m.csat_top2_den as csat_responses
