-- One row per ticket assignment interval of a human agent with a public reply or a solve by them: a ticket segment before the operator version is applied
-- Ownership changes on assign, transfer, escalate (to the new assignee; none when the event names
-- none) and unassign; a solve by an operator makes the solver the owner; a public operator reply
-- while nobody is assigned makes the replier the owner. A solve ends the interval (resolved); the
-- next interval's first event ends the others: unassign → unassigned, another owner → handoff
-- (transfer or escalation by tier downstream); none → open. Events at one instant are ordered
-- assignment, reopen, reply/note, solve, unassign, so "unassign on resolve" keeps the resolution.
-- Deleted and merged tickets are no handled contacts (a merged one lives on in its target).
with events as (
    select
        e.*,
        coalesce(e.author_operator_id, e.author_unresolved_agent) as author_key,
        coalesce(e.assignee_operator_id, e.assignee_unresolved_agent) as assignee_key,
        case e.event_type
            when 'assign' then 0 when 'transfer' then 0 when 'escalate' then 0
            when 'reopen' then 1 when 'reply' then 2 when 'note' then 2
            when 'solve' then 3 when 'unassign' then 4 else 5
        end as type_rank
    from stg_ticket_events as e
    inner join stg_tickets as t on t.ticket_id = e.ticket_id
    where coalesce(t.status, '') not in ('deleted', 'merged')
),

ordered as (
    select
        *,
        row_number() over (partition by ticket_id order by event_at, type_rank, event_id) as seq,
        event_type in ('assign', 'transfer', 'escalate', 'unassign')
            or (event_type = 'solve' and is_human_author) as sets_owner_explicitly
    from events
),

explicit_groups as (
    select
        *,
        sum(case when sets_owner_explicitly then 1 else 0 end) over (
            partition by ticket_id order by seq rows between unbounded preceding and current row
        ) as explicit_group
    from ordered
),

explicit_owners as (
    select
        *,
        first_value(
            case
                when event_type in ('assign', 'transfer', 'escalate') then assignee_key
                when event_type = 'solve' and is_human_author then author_key
            end
        ) over (
            partition by ticket_id, explicit_group order by seq rows between unbounded preceding and unbounded following
        ) as explicit_owner_key
    from explicit_groups
),

setters as (
    select
        *,
        sets_owner_explicitly
            or (event_type = 'reply' and is_public and is_human_author and explicit_owner_key is null) as sets_owner,
        case
            when event_type in ('assign', 'transfer', 'escalate') then assignee_key
            when event_type = 'solve' and is_human_author then author_key
            when event_type = 'reply' and is_public and is_human_author and explicit_owner_key is null then author_key
        end as new_owner_key,
        case
            when event_type in ('assign', 'transfer', 'escalate') then assignee_operator_id
            when event_type in ('solve', 'reply') and is_human_author then author_operator_id
        end as new_owner_operator_id,
        case
            when event_type in ('assign', 'transfer', 'escalate') then assignee_unresolved_agent
            when event_type in ('solve', 'reply') and is_human_author then author_unresolved_agent
        end as new_owner_unresolved_agent,
        case
            when event_type in ('assign', 'transfer', 'escalate') then assignee_id
            when event_type in ('solve', 'reply') and is_human_author then author_id
        end as new_owner_agent_id
    from explicit_owners
),

owner_groups as (
    select
        *,
        sum(case when sets_owner then 1 else 0 end) over (
            partition by ticket_id order by seq rows between unbounded preceding and current row
        ) as owner_group
    from setters
),

owners as (
    select
        *,
        first_value(new_owner_key) over w as owner_key,
        first_value(new_owner_operator_id) over w as owner_operator_id,
        first_value(new_owner_unresolved_agent) over w as owner_unresolved_agent,
        first_value(new_owner_agent_id) over w as owner_agent_id
    from owner_groups
    window w as (partition by ticket_id, owner_group order by seq rows between unbounded preceding and unbounded following)
),

breaks as (
    select
        *,
        case
            when seq = 1 then 1
            when owner_key is distinct from lag(owner_key) over (partition by ticket_id order by seq) then 1
            when lag(event_type) over (partition by ticket_id order by seq) = 'solve' then 1
            else 0
        end as is_break
    from owners
),

numbered as (
    select
        *,
        sum(is_break) over (
            partition by ticket_id order by seq rows between unbounded preceding and current row
        ) as interval_no
    from breaks
),

intervals as (
    select
        ticket_id,
        interval_no,
        min(owner_key) as owner_key,
        min(owner_operator_id) as owner_operator_id,
        min(owner_unresolved_agent) as owner_unresolved_agent,
        min(owner_agent_id) as owner_agent_id,
        min(source_system) as source_system,
        min(event_at) as assigned_at,
        min(event_at) filter (
            where event_type = 'reply' and is_public and is_human_author and author_key = owner_key
        ) as first_reply_at,
        min(event_at) filter (where event_type = 'solve') as solved_at,
        min(event_at) filter (where event_type = 'solve' and is_human_author and author_key = owner_key) as owner_solved_at
    from numbered
    group by ticket_id, interval_no
),

interval_starts as (
    select
        ticket_id,
        interval_no,
        event_type as start_event_type,
        event_at as start_event_at,
        target_tier as start_target_tier
    from numbered
    where is_break = 1
),

ticket_intervals as (
    select
        i.*,
        n.start_event_type as next_event_type,
        n.start_event_at as next_event_at,
        n.start_target_tier as next_target_tier,
        ni.owner_key as next_owner_key,
        ni.owner_operator_id as next_owner_operator_id
    from intervals as i
    left join interval_starts as n on n.ticket_id = i.ticket_id and n.interval_no = i.interval_no + 1
    left join intervals as ni on ni.ticket_id = i.ticket_id and ni.interval_no = i.interval_no + 1
)

select
    'ticket:' || i.ticket_id || ':' || cast(i.interval_no as varchar) as segment_id,
    'ticket' as contact_type,
    i.ticket_id as contact_id,
    t.channel,
    t.direction,
    i.source_system,
    i.owner_agent_id as agent_id,
    i.owner_operator_id as operator_id,
    i.owner_unresolved_agent as unresolved_agent,
    i.owner_key as agent_key,
    t.queue_id,
    i.assigned_at,
    -- a ticket segment starts at its first public reply or solve, whichever is earlier
    least(i.first_reply_at, i.owner_solved_at) as started_at,
    case when i.solved_at is not null then i.solved_at else i.next_event_at end as ended_at,
    i.first_reply_at,
    case
        when i.solved_at is not null then 'resolved'
        when i.next_event_type is null then 'open'
        when i.next_event_type = 'unassign' then 'unassigned'
        else 'handoff'
    end as raw_end_reason,
    case when i.next_event_type = 'escalate' then 'escalate' else 'transfer' end as handoff_kind,
    i.next_owner_operator_id as target_operator_id,
    i.next_event_at as handoff_at,
    i.next_target_tier as target_tier_hint,
    cast(null as bigint) as talk_ms,
    cast(null as bigint) as hold_ms,
    cast(null as bigint) as wrap_ms
from ticket_intervals as i
inner join stg_tickets as t on t.ticket_id = i.ticket_id
where i.owner_key is not null
    and (i.first_reply_at is not null or i.owner_solved_at is not null)
