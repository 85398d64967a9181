-- One row per operator segment (DESIGN §3): a call leg, a chat leg, or a ticket assignment interval with a public reply or solve by its owner
-- touch: local_date, team_local_date
select
    -- ids
    s.segment_id,
    s.contact_type,
    s.contact_id,
    s.operator_id,
    s.unresolved_agent,
    s.source_system,
    s.agent_id,
    s.team_id,
    s.tier,
    s.group_team_id,
    s.queue_id,
    s.queue_team_id,
    -- attributes
    s.channel,
    s.direction,
    s.end_reason,
    s.escalation_target_tier,
    -- timestamps and dates
    s.assigned_at,
    s.started_at,
    s.ended_at,
    s.local_date,
    s.team_local_date,
    -- handle time
    h.talk_ms,
    h.hold_ms,
    h.wrap_ms,
    h.handle_ms,
    h.aht_components,
    h.aht_component_mask,
    h.chat_active_ms,
    h.chat_handle_ms,
    h.chat_effective_ms,
    h.email_tracked_ms,
    -- first reply and resolution
    fr.operator_first_reply_ms,
    coalesce(s.segment_id = cr.resolving_segment_id, false) as is_resolving,
    case when s.segment_id = cr.resolving_segment_id then rc.resolution_ms end as resolution_ms,
    -- FCR and reopen
    f.is_fcr_eligible,
    f.is_fcr_resolved,
    f.has_repeat,
    f.is_reopened,
    -- CSAT attributed to this segment
    coalesce(cs.csat_top_box_n, 0) as csat_top_box_n,
    coalesce(cs.csat_scored_n, 0) as csat_scored_n,
    coalesce(cs.csat_mean_num, 0) as csat_mean_num,
    coalesce(cs.csat_mean_den, 0) as csat_mean_den,
    coalesce(cs.csat_surveys_sent_n, 0) as csat_surveys_sent_n,
    coalesce(cs.csat_responded_sent_n, 0) as csat_responded_sent_n,
    -- maturity
    c.provisional
from int_segments__segments as s
inner join int_handle_time__segments as h on h.segment_id = s.segment_id
inner join int_first_response__segments as fr on fr.segment_id = s.segment_id
inner join int_fcr__segments as f on f.segment_id = s.segment_id
inner join int_fcr__contact_resolution as cr on cr.contact_type = s.contact_type and cr.contact_id = s.contact_id
inner join int_first_response__resolution_calendar as rc
    on rc.contact_type = s.contact_type and rc.contact_id = s.contact_id
inner join contact_facts as c on c.contact_type = s.contact_type and c.contact_id = s.contact_id
left join int_csat__segments as cs on cs.segment_id = s.segment_id
