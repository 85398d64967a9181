-- One row per contact: calendar resolution times, creation → first resolution and → last solve (full resolution)
select
    c.contact_type,
    c.contact_id,
    date_diff('millisecond', c.created_at, r.resolved_at) as resolution_ms,
    date_diff('millisecond', c.created_at, r.full_resolved_at) as full_resolution_ms
from int_segments__contacts as c
inner join int_fcr__contact_resolution as r on r.contact_type = c.contact_type and r.contact_id = c.contact_id
