-- One row per kept CSAT response and the segment credited with it (segment_id null when no operator could be): its survey language and the team-level date team CSAT counts it on
-- touch: local_date
-- The responses of int_csat__attribution (one per contact and survey: the latest scored response
-- received by the cutoff), placed exactly where team_period's CSAT places them (DESIGN §3 Date):
-- a credited response on its segment's date in the team's timezone (team_local_date), for the
-- segment's team (operator's, else queue's) and channel; a response credited to no operator on its
-- contact's date, for the contact's owning team and channel. So the languages of a day, week or
-- month add up to the channel (overall) CSAT of team_period, and the languages of one team's rows to
-- that team's CSAT. With csat.attribution = all_repliers a response credited to n operators is n
-- rows, as it counts n times in the team marts. Language: the response's survey language, trimmed
-- and lower-cased; none (or empty) → 'unknown' (DECISIONS.md).
select
    -- ids
    a.contact_type,
    a.contact_id,
    a.survey_key,
    a.response_id,
    a.segment_id,
    s.operator_id,
    case when a.segment_id is null then c.team_id else s.group_team_id end as team_id,
    -- attributes
    case when a.segment_id is null then c.channel else s.channel end as channel,
    coalesce(nullif(lower(trim(a.language)), ''), 'unknown') as language,
    a.scale,
    a.score_value,
    coalesce(a.is_top_box, false) as is_top_box,
    -- timestamps and dates
    a.received_at,
    case when a.segment_id is null then c.local_date else s.team_local_date end as local_date,
    -- maturity
    c.provisional
from int_csat__attribution as a
inner join contact_facts as c on c.contact_type = a.contact_type and c.contact_id = a.contact_id
left join segment_facts as s on s.segment_id = a.segment_id
where a.is_responded
