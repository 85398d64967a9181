-- One row per answered call leg of a human agent: a phone segment before the operator version is applied
-- end_reason comes from the row; without one an answered leg is resolved, unless a later leg of the
-- call went to another agent (then a `handoff`, made transfer or escalation by tier downstream).
with legs as (
    select *
    from stg_calls
    where answered_at is not null and agent_id is not null and not is_bot_agent
),

with_next as (
    select
        *,
        coalesce(operator_id, unresolved_agent) as agent_key,
        lead(coalesce(operator_id, unresolved_agent)) over (partition by call_id order by leg) as next_agent_key,
        lead(operator_id) over (partition by call_id order by leg) as next_operator_id,
        lead(answered_at) over (partition by call_id order by leg) as next_answered_at
    from legs
)

select
    'call:' || call_id || ':' || cast(leg as varchar) as segment_id,
    'call' as contact_type,
    call_id as contact_id,
    'phone' as channel,
    direction,
    source_system,
    agent_id,
    operator_id,
    unresolved_agent,
    agent_key,
    queue_id,
    answered_at as assigned_at,
    answered_at as started_at,
    ended_at,
    cast(null as timestamp with time zone) as first_reply_at,
    case
        when end_reason is not null then end_reason
        when outcome = 'in_progress' then 'open'
        when next_agent_key is not null and next_agent_key <> agent_key then 'handoff'
        else 'resolved'
    end as raw_end_reason,
    case when end_reason = 'escalation' then 'escalate' else 'transfer' end as handoff_kind,
    coalesce(next_operator_id, o.transfer_operator_id) as target_operator_id,
    coalesce(next_answered_at, ended_at) as handoff_at,
    cast(null as varchar) as target_tier_hint,
    talk_ms,
    hold_ms,
    wrap_ms
from with_next as l
left join (select distinct operator_id as transfer_operator_id from stg_operators) as o
    on o.transfer_operator_id = l.transfer_to
