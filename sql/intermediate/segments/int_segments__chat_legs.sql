-- One row per accepted chat leg of a human agent: a chat segment before the operator version is applied
-- end_reason comes from the row; without one a leg is open while in progress, a handoff when a later
-- leg went to another agent, else resolved.
with legs as (
    select *
    from stg_chats
    where accepted_at is not null and agent_id is not null and not is_bot_agent
),

with_next as (
    select
        *,
        coalesce(operator_id, unresolved_agent) as agent_key,
        lead(coalesce(operator_id, unresolved_agent)) over (partition by chat_id order by leg) as next_agent_key,
        lead(operator_id) over (partition by chat_id order by leg) as next_operator_id,
        lead(accepted_at) over (partition by chat_id order by leg) as next_accepted_at
    from legs
)

select
    'chat:' || chat_id || ':' || cast(leg as varchar) as segment_id,
    'chat' as contact_type,
    chat_id as contact_id,
    channel,
    direction,
    source_system,
    agent_id,
    operator_id,
    unresolved_agent,
    agent_key,
    queue_id,
    accepted_at as assigned_at,
    accepted_at as started_at,
    ended_at,
    first_reply_at,
    case
        when end_reason is not null then end_reason
        when outcome = 'in_progress' then 'open'
        when next_agent_key is not null and next_agent_key <> agent_key then 'handoff'
        else 'resolved'
    end as raw_end_reason,
    case when end_reason = 'escalation' then 'escalate' else 'transfer' end as handoff_kind,
    coalesce(next_operator_id, o.transfer_operator_id) as target_operator_id,
    coalesce(next_accepted_at, ended_at) as handoff_at,
    cast(null as varchar) as target_tier_hint,
    cast(null as bigint) as talk_ms,
    cast(null as bigint) as hold_ms,
    wrap_ms
from with_next as l
left join (select distinct operator_id as transfer_operator_id from stg_operators) as o
    on o.transfer_operator_id = l.transfer_to
