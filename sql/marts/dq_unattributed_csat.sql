-- One row per kept CSAT response no operator could be credited with (it counts for the owning team only)
select
    a.contact_type,
    a.contact_id,
    a.survey_key,
    a.response_id,
    a.scale,
    a.score_value,
    a.received_at,
    c.team_id,
    c.local_date
from int_csat__attribution as a
left join contact_facts as c on c.contact_type = a.contact_type and c.contact_id = a.contact_id
where a.segment_id is null and a.is_responded
