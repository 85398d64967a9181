-- One row per unresolved source agent: segments that count in team and queue totals but in no operator's figures
select
    unresolved_agent,
    source_system,
    agent_id,
    count(*) as legs_n,
    min(started_at) as first_seen_at,
    max(started_at) as last_seen_at
from segment_facts
where unresolved_agent is not null
group by unresolved_agent, source_system, agent_id
