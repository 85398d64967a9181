-- One row per agent and stretch of time with a constant number n ≥ 1 of open chats (accept → end)
with chats as (
    select agent_key, started_at, ended_at
    from int_segments__segments
    where contact_type = 'chat' and ended_at > started_at
),

edges as (
    select agent_key, started_at as changed_at, 1 as delta from chats
    union all
    select agent_key, ended_at as changed_at, -1 as delta from chats
),

points as (
    select agent_key, changed_at, sum(delta) as delta
    from edges
    group by agent_key, changed_at
),

running as (
    select
        agent_key,
        changed_at as starts_at,
        lead(changed_at) over (partition by agent_key order by changed_at) as ends_at,
        cast(sum(delta) over (partition by agent_key order by changed_at rows between unbounded preceding and current row) as bigint)
            as open_n
    from points
)

select agent_key, starts_at, ends_at, open_n
from running
where open_n > 0 and ends_at is not null
