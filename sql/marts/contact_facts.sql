-- One row per contact (call, chat conversation, ticket): first response, resolution, repeat, maturity
-- touch: local_date
-- provisional: the contact is still open, or its last resolution (else its last segment's end)
-- + the largest window (FCR, CSAT cutoff, reopen) is later than the latest loaded event.
select
    -- ids
    c.contact_type,
    c.contact_id,
    c.customer_key,
    c.queue_id,
    c.team_id,
    -- attributes
    c.channel,
    c.direction,
    c.reason_code,
    c.language,
    c.status,
    c.segments_n,
    -- timestamps and dates
    c.created_at,
    c.local_date,
    f.first_reply_at,
    r.resolved_at,
    r.full_resolved_at,
    -- durations
    f.frt_ms,
    rc.resolution_ms,
    rc.full_resolution_ms,
    rb.resolution_business_ms,
    rb.full_resolution_business_ms,
    -- flags
    c.is_auto_reply,
    c.is_short_abandon,
    c.is_customer_eligible,
    c.is_open,
    rp.has_repeat,
    rp.repeat_contact_type,
    rp.repeat_contact_id,
    coalesce(reopened.episode_start_at <= r.repeat_window_end_at, false) as is_reopened,
    coalesce(
        c.is_open
        or greatest(r.window_anchor_at, r.full_resolved_at) + w.maturity_window_days * interval 1 day
        > w.latest_event_at,
        false
    ) as provisional
from int_segments__contacts as c
inner join int_first_response__contacts as f on f.contact_type = c.contact_type and f.contact_id = c.contact_id
inner join int_fcr__contact_resolution as r on r.contact_type = c.contact_type and r.contact_id = c.contact_id
inner join int_first_response__resolution_calendar as rc
    on rc.contact_type = c.contact_type and rc.contact_id = c.contact_id
inner join int_fcr__repeats as rp
    on rp.contact_type = c.contact_type and rp.contact_id = c.contact_id and rp.episode_no = 0
left join int_fcr__episodes as reopened
    on reopened.contact_type = c.contact_type and reopened.contact_id = c.contact_id and reopened.episode_no = 1
left join int_first_response__resolution_business as rb
    on rb.contact_type = c.contact_type and rb.contact_id = c.contact_id
cross join int_segments__watermark as w
