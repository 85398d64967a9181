-- Operator and team cell columns over the merged inputs `m` (DESIGN §4): every rate beside its
-- integer _num/_den, null when the denominator is 0; duration sums BIGINT _ms, means/medians DOUBLE _ms.
m.contacts_handled,
m.calls_answered,
m.chats_handled,
m.emails_handled,
m.social_handled,
case when m.aht_phone_den > 0 then cast(m.aht_phone_num_ms as double) / m.aht_phone_den end as aht_phone_ms,
m.aht_phone_num_ms,
m.aht_phone_den,
m.aht_components,
m.aht_partial_n,
m.talk_ms,
m.hold_ms,
m.wrap_ms,
case when m.aht_chat_den > 0 then cast(m.aht_chat_num_ms as double) / m.aht_chat_den end as aht_chat_ms,
m.aht_chat_num_ms,
m.aht_chat_den,
case when m.chat_effective_den > 0 then cast(m.chat_effective_num_ms as double) / m.chat_effective_den end
    as chat_effective_handle_ms,
case when m.chat_effective_num_ms > 0 then cast(m.avg_chat_concurrency_num_ms as double) / m.chat_effective_num_ms end
    as avg_chat_concurrency,
m.avg_chat_concurrency_num_ms,
m.chat_effective_num_ms as avg_chat_concurrency_den_ms,
case when m.aht_email_den > 0 then cast(m.aht_email_num_ms as double) / m.aht_email_den end as aht_email_ms,
m.aht_email_num_ms,
m.aht_email_den,
case when m.fcr_den > 0 then cast(m.fcr_num as double) / m.fcr_den end as fcr_rate,
m.fcr_num,
m.fcr_den,
case when m.csat_top2_den > 0 then cast(m.csat_top2_num as double) / m.csat_top2_den end as csat_top2_rate,
m.csat_top2_num,
m.csat_top2_den,
case when m.csat_mean_den > 0 then cast(m.csat_mean_num as double) / m.csat_mean_den end as csat_mean,
m.csat_mean_num,
m.csat_mean_den,
m.csat_top2_den as csat_responses,
m.csat_response_rate_den as csat_surveys_sent,
case when m.csat_response_rate_den > 0 then cast(m.csat_response_rate_num as double) / m.csat_response_rate_den end
    as csat_response_rate,
m.csat_response_rate_num,
m.csat_response_rate_den,
-- Wilson score interval, 95% (z = 1.959963984540054; z² = 3.841458820694124), clamped to [0, 1]
-- against rounding
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
end as csat_wilson_high,
m.frt_median_ms,
m.frt_chat_median_ms,
m.frt_email_median_ms,
m.frt_social_median_ms,
m.resolution_median_ms,
case when m.segments_n > 0 then cast(m.escalation_num as double) / m.segments_n end as escalation_rate,
m.escalation_num,
m.segments_n as escalation_den,
m.escalation_l2_n,
m.escalation_l3_n,
case when m.segments_n > 0 then cast(m.transfer_num as double) / m.segments_n end as transfer_rate,
m.transfer_num,
m.segments_n as transfer_den,
case when m.reopen_den > 0 then cast(m.reopen_num as double) / m.reopen_den end as reopen_rate,
m.reopen_num,
m.reopen_den
