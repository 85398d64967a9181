-- One row per contact: its first public reply by a human operator and the first response time (creation → that reply)
-- Bots, API users and system authors (and ids in `bots`) never count; calls have no first reply.
with ticket_replies as (
    select ticket_id as contact_id, min(event_at) as first_reply_at
    from stg_ticket_events
    where event_type = 'reply' and is_public and is_human_author
    group by ticket_id
),

chat_replies as (
    select chat_id as contact_id, min(first_reply_at) as first_reply_at
    from stg_chats
    where agent_id is not null and not is_bot_agent and first_reply_at is not null
    group by chat_id
),

replies as (
    select 'ticket' as contact_type, contact_id, first_reply_at from ticket_replies
    union all
    select 'chat' as contact_type, contact_id, first_reply_at from chat_replies
)

select
    c.contact_type,
    c.contact_id,
    r.first_reply_at,
    date_diff('millisecond', c.created_at, r.first_reply_at) as frt_ms
from int_segments__contacts as c
left join replies as r on r.contact_type = c.contact_type and r.contact_id = c.contact_id
