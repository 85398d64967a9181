-- One row per queue stint (a call or chat waiting in one queue): outcome, wait, service-level flags, maturity
-- touch: local_date
select
    s.*,
    s.outcome = 'in_progress' or coalesce(c.provisional, false) as provisional
from int_queues__stints as s
left join contact_facts as c on c.contact_type = s.contact_type and c.contact_id = s.contact_id
