-- One row per operator segment (call leg, chat leg, ticket interval) with the operator version in force at its start
-- The version in force: valid_from <= local start date (in that version's timezone) < valid_to; when
-- none is (a segment before hire or after the last version), the nearest version. `local_date`
-- is the start's date in the operator's timezone; unresolved agents use the queue's, else team's,
-- timezone. `team_local_date` is the start's date in the timezone of the segment's team (the
-- operator's, else the queue's), used by team marts. A handoff becomes an escalation when the
-- receiving side's tier is higher, else a transfer (an `escalate` event without a known tier: escalation).
with legs as (
    select * from int_segments__call_legs
    union all
    select * from int_segments__chat_legs
    union all
    select * from int_segments__ticket_intervals
),

lookups as (
    select operator_id, started_at as looked_up_at from legs where operator_id is not null
    union
    select target_operator_id, handoff_at from legs where target_operator_id is not null and handoff_at is not null
),

candidates as (
    select
        l.operator_id,
        l.looked_up_at,
        v.team_id,
        v.tier,
        v.timezone,
        v.valid_from,
        v.valid_to,
        cast(l.looked_up_at at time zone v.timezone as date) as local_date
    from lookups as l
    inner join stg_operators as v on v.operator_id = l.operator_id
),

versions_at as (
    select *
    from candidates
    qualify row_number() over (
        partition by operator_id, looked_up_at
        order by
            case when local_date >= valid_from and local_date < valid_to then 0 else 1 end,
            case
                when local_date < valid_from then date_diff('day', local_date, valid_from)
                else date_diff('day', valid_to, local_date)
            end,
            valid_from desc
    ) = 1
),

versioned as (
    select
        l.*,
        v.team_id,
        v.tier,
        v.timezone as operator_timezone,
        v.local_date as operator_local_date,
        tv.tier as target_tier,
        q.team_id as queue_team_id,
        q.timezone as queue_timezone
    from legs as l
    left join versions_at as v on v.operator_id = l.operator_id and v.looked_up_at = l.started_at
    left join versions_at as tv on tv.operator_id = l.target_operator_id and tv.looked_up_at = l.handoff_at
    left join stg_queues as q on q.queue_id = l.queue_id
),

reasons as (
    select
        *,
        case
            when raw_end_reason <> 'handoff' then raw_end_reason
            when coalesce(target_tier, target_tier_hint) is null or tier is null
                then (case when handoff_kind = 'escalate' then 'escalation' else 'transfer' end)
            when coalesce(target_tier, target_tier_hint) > tier then 'escalation'
            else 'transfer'
        end as end_reason
    from versioned
)

select
    r.segment_id,
    r.contact_type,
    r.contact_id,
    r.channel,
    r.direction,
    r.source_system,
    r.agent_id,
    r.operator_id,
    r.unresolved_agent,
    r.agent_key,
    r.team_id,
    r.tier,
    r.queue_id,
    r.queue_team_id,
    coalesce(r.team_id, r.queue_team_id) as group_team_id,
    r.assigned_at,
    r.started_at,
    r.ended_at,
    r.first_reply_at,
    coalesce(
        r.operator_local_date,
        cast(r.started_at at time zone coalesce(r.queue_timezone, qt.timezone, 'UTC') as date)
    ) as local_date,
    cast(r.started_at at time zone coalesce(gt.timezone, r.operator_timezone, r.queue_timezone, 'UTC') as date)
        as team_local_date,
    r.end_reason,
    case when r.end_reason = 'escalation' then coalesce(r.target_tier, r.target_tier_hint) end as escalation_target_tier,
    r.talk_ms,
    r.hold_ms,
    r.wrap_ms
from reasons as r
left join stg_teams as qt on qt.team_id = r.queue_team_id
left join stg_teams as gt on gt.team_id = coalesce(r.team_id, r.queue_team_id)
