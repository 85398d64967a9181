-- One row per key a dense mart gives rows to on every day (operator, queue, team, tier, channel, CSAT survey language): a change makes the next build full
select distinct 'operator' as key_type, operator_id as key_value from segment_facts where operator_id is not null
union
select distinct 'operator', operator_id from operator_presence_daily
union
select distinct 'queue', queue_id from queue_stint_facts
union
select distinct 'team', group_team_id from segment_facts where group_team_id is not null
union
select distinct 'tier', tier from segment_facts where tier is not null
union
select distinct 'channel', channel from segment_facts
union
select distinct 'team', team_id from team_queue_facts where team_id is not null
union
select distinct 'channel', channel from team_queue_facts where channel is not null
union
select distinct dimension, dimension_value from team_contact_facts
union
select distinct 'language', language from csat_response_facts
