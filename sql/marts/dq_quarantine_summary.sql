-- One row per (file, kind, rule, status) of quarantined rows
select
    file,
    kind,
    rule_id,
    status,
    count(distinct line) as rows_n,
    min(location) as first_location
from quarantine
group by file, kind, rule_id, status
