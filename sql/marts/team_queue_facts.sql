-- One row per team and contact that queued in the team's queues (offered once to the team, wait from the first entry)
-- touch: local_date
select
    s.*,
    s.outcome = 'in_progress' or coalesce(c.provisional, false) as provisional
from int_queues__team_contacts as s
left join contact_facts as c on c.contact_type = s.contact_type and c.contact_id = s.contact_id
