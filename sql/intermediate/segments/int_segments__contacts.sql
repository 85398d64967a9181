-- One row per contact (call, chat conversation, ticket): who, why, where, when it was created, whether it is still open
-- A call is every leg and stint sharing its call_id; a short abandon is a contact never answered
-- whose last stint was abandoned within queues.short_abandon_s (chats: chat.short_abandon_s) of
-- entering the queue. Owning team: the queue's team, else the first segment's team.
with params as (
    select
        max(case when key = 'queues.short_abandon_s' then cast(value as bigint) end) * 1000 as call_short_abandon_ms,
        max(case when key = 'chat.short_abandon_s' then cast(value as bigint) end) * 1000 as chat_short_abandon_ms
    from config_values
),

excluded_keys as (
    select distinct value as customer_key from config_lists where key = 'fcr.excluded_customer_keys'
),

calls as (
    select
        'call' as contact_type,
        call_id as contact_id,
        'phone' as channel,
        arg_min(direction, leg) as direction,
        arg_min(customer_key, leg) filter (where customer_key is not null) as customer_key,
        arg_min(customer_key_source, leg) filter (where customer_key_source is not null) as customer_key_source,
        arg_min(reason_code, leg) filter (where reason_code is not null) as reason_code,
        arg_min(language, leg) filter (where language is not null) as language,
        arg_min(queue_id, leg) filter (where queue_id is not null) as queue_id,
        min(coalesce(enqueued_at, answered_at, ended_at)) as created_at,
        max(ended_at) as last_ended_at,
        bool_or(answered_at is not null) as is_answered,
        arg_max(outcome, leg) as last_outcome,
        bool_or(outcome = 'in_progress' or end_reason = 'open') as is_open,
        false as is_auto_reply,
        cast(null as varchar) as follow_up_of,
        cast(null as varchar) as status
    from stg_calls
    group by call_id
),

chats as (
    select
        'chat' as contact_type,
        chat_id as contact_id,
        arg_min(channel, leg) as channel,
        arg_min(direction, leg) as direction,
        arg_min(customer_key, leg) filter (where customer_key is not null) as customer_key,
        arg_min(customer_key_source, leg) filter (where customer_key_source is not null) as customer_key_source,
        arg_min(reason_code, leg) filter (where reason_code is not null) as reason_code,
        arg_min(language, leg) filter (where language is not null) as language,
        arg_min(queue_id, leg) filter (where queue_id is not null) as queue_id,
        min(queued_at) as created_at,
        max(ended_at) as last_ended_at,
        bool_or(accepted_at is not null) as is_answered,
        arg_max(outcome, leg) as last_outcome,
        bool_or(outcome = 'in_progress' or end_reason = 'open') as is_open,
        false as is_auto_reply,
        cast(null as varchar) as follow_up_of,
        cast(null as varchar) as status
    from stg_chats
    group by chat_id
),

ticket_solves as (
    select
        ticket_id,
        max(event_at) filter (where event_type = 'solve') as last_solve_at,
        max(event_at) filter (where event_type = 'reopen') as last_reopen_at,
        max(event_at) as last_event_at
    from stg_ticket_events
    group by ticket_id
),

tickets as (
    select
        'ticket' as contact_type,
        t.ticket_id as contact_id,
        t.channel,
        t.direction,
        t.customer_key,
        t.customer_key_source,
        t.reason_code,
        t.language,
        t.queue_id,
        t.created_at,
        coalesce(s.last_event_at, t.updated_at) as last_ended_at,
        true as is_answered,
        cast(null as varchar) as last_outcome,
        case
            when t.status in ('solved', 'closed', 'merged') then false
            when t.status in ('new', 'open', 'pending', 'hold') then true
            else s.last_solve_at is null or s.last_reopen_at > s.last_solve_at
        end as is_open,
        t.is_auto_reply,
        t.follow_up_of,
        t.status
    from stg_tickets as t
    left join ticket_solves as s on s.ticket_id = t.ticket_id
    where coalesce(t.status, '') not in ('deleted', 'merged')
),

contacts as (
    select * from calls
    union all
    select * from chats
    union all
    select * from tickets
),

first_segments as (
    select contact_type, contact_id, team_id
    from int_segments__segments
    where team_id is not null
    qualify row_number() over (partition by contact_type, contact_id order by started_at, segment_id) = 1
),

segment_counts as (
    select contact_type, contact_id, count(*) as segments_n
    from int_segments__segments
    group by contact_type, contact_id
),

owned as (
    select
        c.*,
        coalesce(q.team_id, f.team_id) as team_id,
        coalesce(n.segments_n, 0) as segments_n,
        cast(c.created_at at time zone coalesce(t.timezone, q.timezone, 'UTC') as date) as local_date
    from contacts as c
    left join stg_queues as q on q.queue_id = c.queue_id
    left join first_segments as f on f.contact_type = c.contact_type and f.contact_id = c.contact_id
    left join stg_teams as t on t.team_id = coalesce(q.team_id, f.team_id)
    left join segment_counts as n on n.contact_type = c.contact_type and n.contact_id = c.contact_id
)

select
    o.contact_type,
    o.contact_id,
    o.channel,
    o.direction,
    o.customer_key,
    o.customer_key_source,
    o.reason_code,
    o.language,
    o.queue_id,
    o.team_id,
    o.status,
    o.follow_up_of,
    o.created_at,
    o.last_ended_at,
    o.local_date,
    o.segments_n,
    o.is_open,
    o.is_auto_reply,
    o.contact_type in ('call', 'chat') and not o.is_answered and o.last_outcome = 'abandoned'
        and date_diff('millisecond', o.created_at, o.last_ended_at)
        < (case when o.contact_type = 'chat' then p.chat_short_abandon_ms else p.call_short_abandon_ms end)
        as is_short_abandon,
    -- FCR counts a contact only with a usable customer key (not anonymous, not excluded)
    o.customer_key is not null and coalesce(o.customer_key_source, '') <> 'anonymous' and x.customer_key is null
        as is_customer_eligible
from owned as o
cross join params as p
left join excluded_keys as x on x.customer_key = o.customer_key
