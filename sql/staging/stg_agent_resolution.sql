-- One row per agent reference (source system, agent id, instant): the operator it resolves to, or why it does not
-- An agent id resolves through operator_identities valid on the local date of the instant (in the
-- operator's home timezone), else to itself when it is an operator_id; ids listed in `bots` never
-- resolve. Unresolved references keep `unresolved_agent = '<system>:<raw id>'` (DESIGN §2).
with references_ as (
    select coalesce(source_system, 'canonical') as source_system, agent_id, answered_at as referenced_at
    from raw_calls
    where agent_id is not null and answered_at is not null
    union
    select coalesce(source_system, 'canonical'), agent_id, accepted_at
    from raw_chats
    where agent_id is not null and accepted_at is not null
    union
    select coalesce(source_system, 'canonical'), author_id, "at"
    from raw_ticket_events
    where author_id is not null and author_type = 'operator'
    union
    select coalesce(source_system, 'canonical'), assignee_id, "at"
    from raw_ticket_events
    where assignee_id is not null
    union
    select coalesce(source_system, 'canonical'), assignee_id, sent_at
    from raw_surveys_sent
    where assignee_id is not null
    union
    -- agent states carry no source system: any system's identity may match
    select '*', operator_id, started_at
    from raw_agent_states
    where operator_id is not null
),

bots as (
    select distinct value as agent_id from config_lists where key = 'bots'
),

home_timezones as (
    select operator_id, timezone
    from stg_operators
    qualify row_number() over (partition by operator_id order by valid_from desc) = 1
),

by_identity as (
    select r.source_system, r.agent_id, r.referenced_at, i.operator_id
    from references_ as r
    inner join stg_agent_identities as i
        on i.source_id = r.agent_id and (i.source_system = r.source_system or r.source_system = '*')
    left join home_timezones as h on h.operator_id = i.operator_id
    where cast(r.referenced_at at time zone coalesce(h.timezone, 'UTC') as date) >= i.valid_from
        and cast(r.referenced_at at time zone coalesce(h.timezone, 'UTC') as date) < i.valid_to
    qualify row_number() over (
        partition by r.source_system, r.agent_id, r.referenced_at order by i.valid_from desc, i.operator_id
    ) = 1
),

resolved as (
    select
        r.source_system,
        r.agent_id,
        r.referenced_at,
        b.agent_id is not null as is_bot,
        case when b.agent_id is null then coalesce(i.operator_id, o.operator_id) end as operator_id
    from references_ as r
    left join bots as b on b.agent_id = r.agent_id
    left join by_identity as i
        on i.source_system = r.source_system and i.agent_id = r.agent_id and i.referenced_at = r.referenced_at
    left join (select distinct operator_id from stg_operators) as o on o.operator_id = r.agent_id
)

select
    source_system,
    agent_id,
    referenced_at,
    is_bot,
    operator_id,
    case
        when not is_bot and operator_id is null
            then (case when source_system = '*' then 'agent_states' else source_system end) || ':' || agent_id
    end as unresolved_agent
from resolved
