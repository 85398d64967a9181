-- One row per contact episode: its first repeat within the episode's window (DESIGN §4 FCR)
-- A repeat is another eligible contact (inbound, not a short abandon, not an auto-reply) of the
-- same customer key on any channel, created in (episode start, repeat_window_end_at], with the same
-- reason code; when either has no reason code, fcr.reason_fallback decides: `queue` (same queue)
-- or `any`. A reopen of the same ticket or a follow-up ticket in that interval is a repeat too.
with params as (
    select max(case when key = 'fcr.reason_fallback' then value end) as reason_fallback
    from config_values
),

contacts as (
    select
        c.contact_type,
        c.contact_id,
        c.customer_key,
        c.reason_code,
        c.queue_id,
        c.follow_up_of,
        c.created_at,
        c.direction = 'inbound' and not c.is_short_abandon and not c.is_auto_reply as is_repeat_candidate
    from int_segments__contacts as c
),

episodes as (
    select
        e.*,
        c.customer_key,
        c.reason_code,
        c.queue_id
    from int_fcr__episodes as e
    inner join contacts as c on c.contact_type = e.contact_type and c.contact_id = e.contact_id
),

customer_repeats as (
    select
        a.contact_type,
        a.contact_id,
        a.episode_no,
        b.contact_type as repeat_contact_type,
        b.contact_id as repeat_contact_id,
        b.created_at as repeat_at
    from episodes as a
    inner join contacts as b
        on b.customer_key = a.customer_key
        and b.created_at > a.episode_start_at
        and b.created_at <= a.repeat_window_end_at
    cross join params as p
    where b.is_repeat_candidate
        and not (b.contact_type = a.contact_type and b.contact_id = a.contact_id)
        and (
            (a.reason_code is not null and b.reason_code is not null and a.reason_code = b.reason_code)
            or (
                (a.reason_code is null or b.reason_code is null)
                and (p.reason_fallback = 'any' or a.queue_id = b.queue_id)
            )
        )
),

reopen_repeats as (
    select
        a.contact_type,
        a.contact_id,
        a.episode_no,
        a.contact_type as repeat_contact_type,
        a.contact_id as repeat_contact_id,
        e.event_at as repeat_at
    from episodes as a
    inner join stg_ticket_events as e
        on a.contact_type = 'ticket'
        and e.ticket_id = a.contact_id
        and e.event_type = 'reopen'
        and e.event_at > a.episode_start_at
        and e.event_at <= a.repeat_window_end_at
),

follow_up_repeats as (
    select
        a.contact_type,
        a.contact_id,
        a.episode_no,
        b.contact_type as repeat_contact_type,
        b.contact_id as repeat_contact_id,
        b.created_at as repeat_at
    from episodes as a
    inner join contacts as b
        on a.contact_type = 'ticket'
        and b.contact_type = 'ticket'
        and b.follow_up_of = a.contact_id
        and b.created_at > a.episode_start_at
        and b.created_at <= a.repeat_window_end_at
),

first_repeats as (
    select *
    from (
        select * from customer_repeats
        union all
        select * from reopen_repeats
        union all
        select * from follow_up_repeats
    ) as repeats
    qualify row_number() over (
        partition by contact_type, contact_id, episode_no order by repeat_at, repeat_contact_type, repeat_contact_id
    ) = 1
)

select
    e.contact_type,
    e.contact_id,
    e.episode_no,
    f.contact_id is not null as has_repeat,
    f.repeat_contact_type,
    f.repeat_contact_id,
    f.repeat_at
from episodes as e
left join first_repeats as f
    on f.contact_type = e.contact_type and f.contact_id = e.contact_id and f.episode_no = e.episode_no
