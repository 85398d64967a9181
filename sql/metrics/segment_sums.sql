-- Sums over segment facts `s` of one cell (operator, team, tier or channel × period): the inputs of
-- metrics/cell_rates.sql, grouped by the caller (a roster join afterwards turns missing cells into 0).
count(s.segment_id) as segments_n,
count(s.segment_id) filter (where s.contact_type = 'call') as calls_answered,
count(s.segment_id) filter (where s.contact_type = 'chat' and s.channel = 'chat') as chats_handled,
count(s.segment_id) filter (where s.contact_type = 'ticket' and s.channel = 'email') as emails_handled,
count(s.segment_id) filter (where s.channel = 'social') as social_handled,
-- phone handle time (DESIGN §4): sum only the components reported for every phone segment of the
-- cell (bit mask 1 talk, 2 hold, 4 wrap); count the segments missing a component reported for others
cast(sum(s.talk_ms) filter (where s.contact_type = 'call') as bigint) as talk_ms,
cast(sum(s.hold_ms) filter (where s.contact_type = 'call') as bigint) as hold_ms,
cast(sum(s.wrap_ms) filter (where s.contact_type = 'call') as bigint) as wrap_ms,
case
    when bit_and(s.aht_component_mask) filter (where s.contact_type = 'call') > 0
        then cast(
            (case when (bit_and(s.aht_component_mask) filter (where s.contact_type = 'call') & 1) = 1
                then coalesce(sum(s.talk_ms) filter (where s.contact_type = 'call'), 0) else 0 end)
            + (case when (bit_and(s.aht_component_mask) filter (where s.contact_type = 'call') & 2) = 2
                then coalesce(sum(s.hold_ms) filter (where s.contact_type = 'call'), 0) else 0 end)
            + (case when (bit_and(s.aht_component_mask) filter (where s.contact_type = 'call') & 4) = 4
                then coalesce(sum(s.wrap_ms) filter (where s.contact_type = 'call'), 0) else 0 end)
            as bigint)
end as aht_phone_num_ms,
count(s.segment_id) filter (where s.contact_type = 'call') as aht_phone_den,
nullif(concat_ws('+',
    case when (bit_and(s.aht_component_mask) filter (where s.contact_type = 'call') & 1) = 1 then 'talk' end,
    case when (bit_and(s.aht_component_mask) filter (where s.contact_type = 'call') & 2) = 2 then 'hold' end,
    case when (bit_and(s.aht_component_mask) filter (where s.contact_type = 'call') & 4) = 4 then 'wrap' end
), '') as aht_components,
count(s.segment_id) filter (where s.contact_type = 'call')
    - (case bit_or(s.aht_component_mask) filter (where s.contact_type = 'call')
        when 1 then count(s.segment_id) filter (where s.contact_type = 'call' and (s.aht_component_mask & 1) = 1)
        when 2 then count(s.segment_id) filter (where s.contact_type = 'call' and (s.aht_component_mask & 2) = 2)
        when 3 then count(s.segment_id) filter (where s.contact_type = 'call' and (s.aht_component_mask & 3) = 3)
        when 4 then count(s.segment_id) filter (where s.contact_type = 'call' and (s.aht_component_mask & 4) = 4)
        when 5 then count(s.segment_id) filter (where s.contact_type = 'call' and (s.aht_component_mask & 5) = 5)
        when 6 then count(s.segment_id) filter (where s.contact_type = 'call' and (s.aht_component_mask & 6) = 6)
        when 7 then count(s.segment_id) filter (where s.contact_type = 'call' and (s.aht_component_mask & 7) = 7)
        else count(s.segment_id) filter (where s.contact_type = 'call')
    end) as aht_partial_n,
-- chat handle time
cast(coalesce(sum(s.chat_handle_ms) filter (where s.contact_type = 'chat'), 0) as bigint) as aht_chat_num_ms,
count(s.chat_handle_ms) filter (where s.contact_type = 'chat') as aht_chat_den,
cast(coalesce(sum(s.chat_effective_ms) filter (where s.contact_type = 'chat'), 0) as bigint) as chat_effective_num_ms,
count(s.chat_effective_ms) filter (where s.contact_type = 'chat') as chat_effective_den,
cast(coalesce(sum(s.chat_active_ms) filter (where s.contact_type = 'chat' and s.chat_effective_ms is not null), 0) as bigint)
    as avg_chat_concurrency_num_ms,
-- e-mail handle time (tracked work time; tickets without it are left out)
cast(coalesce(sum(s.email_tracked_ms) filter (where s.contact_type = 'ticket' and s.channel = 'email'), 0) as bigint)
    as aht_email_num_ms,
count(s.email_tracked_ms) filter (where s.contact_type = 'ticket' and s.channel = 'email') as aht_email_den,
-- FCR, operator definition (DESIGN §4)
count(s.segment_id) filter (where s.is_fcr_eligible) as segment_fcr_den,
count(s.segment_id) filter (where s.is_fcr_resolved) as segment_fcr_num,
-- CSAT attributed to the segments
cast(coalesce(sum(s.csat_top_box_n), 0) as bigint) as segment_csat_top2_num,
cast(coalesce(sum(s.csat_scored_n), 0) as bigint) as segment_csat_top2_den,
cast(coalesce(sum(s.csat_mean_num), 0) as bigint) as segment_csat_mean_num,
cast(coalesce(sum(s.csat_mean_den), 0) as bigint) as segment_csat_mean_den,
cast(coalesce(sum(s.csat_responded_sent_n), 0) as bigint) as segment_csat_response_num,
cast(coalesce(sum(s.csat_surveys_sent_n), 0) as bigint) as segment_csat_response_den,
-- first reply; first resolution of tickets (created → first solve) on the solving segment
quantile_cont(cast(s.operator_first_reply_ms as double), 0.5) filter (where s.channel in ('chat', 'email', 'social'))
    as frt_median_ms,
quantile_cont(cast(s.operator_first_reply_ms as double), 0.5) filter (where s.channel = 'chat') as frt_chat_median_ms,
quantile_cont(cast(s.operator_first_reply_ms as double), 0.5) filter (where s.channel = 'email') as frt_email_median_ms,
quantile_cont(cast(s.operator_first_reply_ms as double), 0.5) filter (where s.channel = 'social') as frt_social_median_ms,
quantile_cont(cast(s.resolution_ms as double), 0.5) filter (where s.contact_type = 'ticket') as resolution_median_ms,
-- escalations, transfers, reopens
count(s.segment_id) filter (where s.end_reason = 'escalation') as escalation_num,
count(s.segment_id) filter (where s.end_reason = 'escalation' and s.escalation_target_tier = 'L2') as escalation_l2_n,
count(s.segment_id) filter (where s.end_reason = 'escalation' and s.escalation_target_tier = 'L3') as escalation_l3_n,
count(s.segment_id) filter (where s.end_reason = 'transfer') as transfer_num,
count(s.segment_id) filter (where s.is_reopened) as reopen_num,
count(s.segment_id) filter (where s.contact_type = 'ticket' and s.end_reason = 'resolved') as reopen_den,
coalesce(bool_or(s.provisional), false) as segments_provisional
