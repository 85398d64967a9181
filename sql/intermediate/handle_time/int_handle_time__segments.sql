-- One row per operator segment: handle-time components and handle times by channel (ms)
-- Phone: handle = the reported components among talk, hold and wrap (null when none is reported),
-- with a bit mask of which are (1 talk, 2 hold, 4 wrap). Chat: active = accept → end, handle =
-- active + wrap when reported, effective = ∫ 1/n(t) dt over the agent's n(t) open chats. Tickets:
-- the ticket's tracked time split evenly over its segments (the remainder on the last one).
with segments as (
    select * from int_segments__segments
),

chat_effective as (
    select
        s.segment_id,
        sum(cast(date_diff('millisecond', c.starts_at, c.ends_at) as double) / c.open_n) as effective_ms
    from segments as s
    inner join int_handle_time__chat_slices as c
        on c.agent_key = s.agent_key and c.starts_at >= s.started_at and c.ends_at <= s.ended_at
    where s.contact_type = 'chat'
    group by s.segment_id
),

ticket_tracked as (
    select
        s.segment_id,
        t.tracked_ms,
        count(*) over (partition by s.contact_id) as segments_n,
        row_number() over (partition by s.contact_id order by s.started_at, s.segment_id) as segment_no
    from segments as s
    inner join stg_tickets as t on t.ticket_id = s.contact_id
    where s.contact_type = 'ticket' and t.tracked_ms is not null
)

select
    s.segment_id,
    s.talk_ms,
    s.hold_ms,
    s.wrap_ms,
    case
        when s.contact_type = 'call' and (s.talk_ms is not null or s.hold_ms is not null or s.wrap_ms is not null)
            then coalesce(s.talk_ms, 0) + coalesce(s.hold_ms, 0) + coalesce(s.wrap_ms, 0)
    end as handle_ms,
    case
        when s.contact_type = 'call'
            then nullif(concat_ws('+',
                case when s.talk_ms is not null then 'talk' end,
                case when s.hold_ms is not null then 'hold' end,
                case when s.wrap_ms is not null then 'wrap' end), '')
    end as aht_components,
    case
        when s.contact_type = 'call'
            then (case when s.talk_ms is not null then 1 else 0 end)
                + (case when s.hold_ms is not null then 2 else 0 end)
                + (case when s.wrap_ms is not null then 4 else 0 end)
    end as aht_component_mask,
    case when s.contact_type = 'chat' then date_diff('millisecond', s.started_at, s.ended_at) end as chat_active_ms,
    case
        when s.contact_type = 'chat' then date_diff('millisecond', s.started_at, s.ended_at) + coalesce(s.wrap_ms, 0)
    end as chat_handle_ms,
    case
        when s.contact_type = 'chat' and s.ended_at is not null then cast(round(coalesce(e.effective_ms, 0)) as bigint)
    end as chat_effective_ms,
    case
        when t.segment_id is not null
            then t.tracked_ms // t.segments_n
                + (case when t.segment_no = t.segments_n then t.tracked_ms % t.segments_n else 0 end)
    end as email_tracked_ms
from segments as s
left join chat_effective as e on e.segment_id = s.segment_id
left join ticket_tracked as t on t.segment_id = s.segment_id
