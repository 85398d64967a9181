-- The Wilson score interval, 95%, of the CSAT top-box share over inputs `m` holding csat_top2_num/_den
-- (DESIGN §4 CSAT): z = 1.959963984540054 (z² = 3.841458820694124), clamped to [0, 1] against
-- rounding; null when csat_top2_den is 0. Included by metrics/cell_rates.sql (operator and team cells)
-- and by the CSAT-by-language mart and report.
case
    when m.csat_top2_den > 0 then greatest(0.0, (
        cast(m.csat_top2_num as double) / m.csat_top2_den + 1.920729410347062 / m.csat_top2_den
        - 1.959963984540054 * sqrt(
            (cast(m.csat_top2_num as double) / m.csat_top2_den)
            * (1 - cast(m.csat_top2_num as double) / m.csat_top2_den) / m.csat_top2_den
            + 0.960364705173531 / (cast(m.csat_top2_den as double) * m.csat_top2_den)
        )
    ) / (1 + 3.841458820694124 / m.csat_top2_den))
end as csat_wilson_low,
case
    when m.csat_top2_den > 0 then least(1.0, (
        cast(m.csat_top2_num as double) / m.csat_top2_den + 1.920729410347062 / m.csat_top2_den
        + 1.959963984540054 * sqrt(
            (cast(m.csat_top2_num as double) / m.csat_top2_den)
            * (1 - cast(m.csat_top2_num as double) / m.csat_top2_den) / m.csat_top2_den
            + 0.960364705173531 / (cast(m.csat_top2_den as double) * m.csat_top2_den)
        )
    ) / (1 + 3.841458820694124 / m.csat_top2_den))
end as csat_wilson_high
