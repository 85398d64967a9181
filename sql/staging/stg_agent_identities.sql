-- One row per source agent id mapping, valid on days valid_from <= day < valid_to
select
    source_system,
    source_id,
    operator_id,
    valid_from,
    coalesce(valid_to, date '9999-12-31') as valid_to
from raw_operator_identities
