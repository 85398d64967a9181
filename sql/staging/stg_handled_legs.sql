-- One row per answered call or chat leg and per public operator reply on a ticket, with its agent resolved to an operator
with call_legs as (
    select
        'phone' as channel, 'call' as contact_type, call_id as contact_id, cast(leg as varchar) as leg_ref,
        coalesce(source_system, 'canonical') as source_system, agent_id, answered_at as started_at
    from raw_calls
    where answered_at is not null and agent_id is not null
),

chat_legs as (
    select
        channel, 'chat' as contact_type, chat_id as contact_id, cast(leg as varchar) as leg_ref,
        coalesce(source_system, 'canonical') as source_system, agent_id, accepted_at as started_at
    from raw_chats
    where accepted_at is not null and agent_id is not null
),

ticket_replies as (
    select
        t.channel, 'ticket' as contact_type, e.ticket_id as contact_id, e.event_id as leg_ref,
        coalesce(e.source_system, 'canonical') as source_system, e.author_id as agent_id, e."at" as started_at
    from raw_ticket_events as e
    inner join raw_tickets as t on t.ticket_id = e.ticket_id
    where e.event_type = 'reply' and e.author_type = 'operator' and coalesce(e.is_public, true)
        and e.author_id is not null
),

legs as (
    select * from call_legs
    union all select * from chat_legs
    union all select * from ticket_replies
),

by_identity as (
    select l.*, i.operator_id as identity_operator_id
    from legs as l
    left join stg_agent_identities as i
        on i.source_system = l.source_system and i.source_id = l.agent_id
        and cast(l.started_at as date) >= i.valid_from and cast(l.started_at as date) < i.valid_to
),

resolved as (
    select
        b.*,
        coalesce(b.identity_operator_id, case when o.operator_id is not null then b.agent_id end) as operator_id
    from by_identity as b
    left join (select distinct operator_id from stg_operators) as o on o.operator_id = b.agent_id
)

select
    channel, contact_type, contact_id, leg_ref, source_system, agent_id, started_at, operator_id,
    case when operator_id is null then source_system || ':' || agent_id end as unresolved_agent
from resolved
