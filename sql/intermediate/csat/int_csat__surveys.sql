-- One row per (contact, survey): the survey sent and the response kept for it (the latest scored response received by the cutoff)
-- Unanswered and "offered" rows are not responses (no score on the scale). The cutoff is the
-- contact's resolution + csat.cutoff_days (int_fcr__contact_resolution.csat_cutoff_at).
with responses as (
    select
        r.*,
        coalesce(r.survey_id, '') as survey_key
    from stg_csat_responses as r
    inner join int_fcr__contact_resolution as c on c.contact_type = r.contact_type and c.contact_id = r.contact_id
    where r.is_scored and r.received_at <= c.csat_cutoff_at
),

kept_responses as (
    select *
    from responses
    qualify row_number() over (
        partition by contact_type, contact_id, survey_key order by received_at desc, response_id desc
    ) = 1
),

sent as (
    select
        *,
        survey_id as survey_key
    from stg_surveys_sent
    qualify row_number() over (partition by survey_id order by sent_at) = 1
)

select
    coalesce(r.contact_type, s.contact_type) as contact_type,
    coalesce(r.contact_id, s.contact_id) as contact_id,
    coalesce(r.survey_key, s.survey_key) as survey_key,
    r.response_id,
    s.sent_at,
    s.assignee_operator_id as snapshot_operator_id,
    s.survey_key is not null as is_sent,
    r.response_id is not null as is_responded,
    r.received_at,
    coalesce(r.scale, s.scale) as scale,
    r.score_value,
    r.is_top_box,
    r.language,
    -- attribution looks at what happened before the rating (before sending, when unanswered)
    coalesce(r.received_at, s.sent_at) as reference_at
from kept_responses as r
full outer join sent as s
    on s.survey_key = r.survey_key and s.contact_type = r.contact_type and s.contact_id = r.contact_id
