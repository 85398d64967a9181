-- One row per (contact, survey, attributed segment); segment_id null when unattributed (team only, listed in data quality)
-- First match wins (csat.attribution = first_match): the assignee snapshotted when the survey was
-- sent (their last segment on the contact before the reference instant, else their first); the
-- operator of the last solve before the rating; the last operator with a public reply (a call or
-- chat leg: its start) before it. csat.attribution = all_repliers credits every operator with a
-- segment started before the rating, once each (their last such segment).
with params as (
    select max(case when key = 'csat.attribution' then value end) as attribution
    from config_values
),

surveys as (
    select * from int_csat__surveys
),

segments as (
    select segment_id, contact_type, contact_id, operator_id, started_at, ended_at, end_reason
    from int_segments__segments
    where operator_id is not null
),

by_snapshot as (
    select s.contact_type, s.contact_id, s.survey_key, g.segment_id, 1 as rule_no,
        row_number() over (
            partition by s.contact_type, s.contact_id, s.survey_key
            order by case when g.started_at <= s.reference_at then 0 else 1 end,
                case when g.started_at <= s.reference_at then g.started_at end desc,
                g.started_at, g.segment_id
        ) as rank_in_rule
    from surveys as s
    inner join segments as g
        on g.contact_type = s.contact_type and g.contact_id = s.contact_id and g.operator_id = s.snapshot_operator_id
),

by_last_solve as (
    select s.contact_type, s.contact_id, s.survey_key, g.segment_id, 2 as rule_no,
        row_number() over (
            partition by s.contact_type, s.contact_id, s.survey_key order by g.ended_at desc, g.segment_id desc
        ) as rank_in_rule
    from surveys as s
    inner join segments as g
        on g.contact_type = s.contact_type and g.contact_id = s.contact_id
        and g.end_reason = 'resolved' and g.ended_at <= s.reference_at
),

by_last_reply as (
    select s.contact_type, s.contact_id, s.survey_key, g.segment_id, 3 as rule_no,
        row_number() over (
            partition by s.contact_type, s.contact_id, s.survey_key order by g.started_at desc, g.segment_id desc
        ) as rank_in_rule
    from surveys as s
    inner join segments as g
        on g.contact_type = s.contact_type and g.contact_id = s.contact_id and g.started_at <= s.reference_at
),

first_match as (
    select contact_type, contact_id, survey_key, segment_id
    from (
        select * from by_snapshot where rank_in_rule = 1
        union all
        select * from by_last_solve where rank_in_rule = 1
        union all
        select * from by_last_reply where rank_in_rule = 1
    ) as matches
    qualify row_number() over (partition by contact_type, contact_id, survey_key order by rule_no) = 1
),

all_repliers as (
    select s.contact_type, s.contact_id, s.survey_key, g.segment_id
    from surveys as s
    inner join segments as g
        on g.contact_type = s.contact_type and g.contact_id = s.contact_id and g.started_at <= s.reference_at
    qualify row_number() over (
        partition by s.contact_type, s.contact_id, s.survey_key, g.operator_id order by g.started_at desc, g.segment_id desc
    ) = 1
),

chosen as (
    select m.* from first_match as m cross join params as p where p.attribution <> 'all_repliers'
    union all
    select a.* from all_repliers as a cross join params as p where p.attribution = 'all_repliers'
)

select
    s.contact_type,
    s.contact_id,
    s.survey_key,
    c.segment_id,
    s.response_id,
    s.is_sent,
    s.is_responded,
    s.scale,
    s.score_value,
    s.is_top_box,
    s.language,
    s.received_at,
    s.sent_at
from surveys as s
left join chosen as c
    on c.contact_type = s.contact_type and c.contact_id = s.contact_id and c.survey_key = s.survey_key
