-- One row per operator version, valid on days valid_from <= day < valid_to
select
    -- ids
    operator_id,
    team_id,
    pay_plan_id,
    -- attributes
    display_name,
    tier,
    timezone,
    languages,
    employment_type,
    fte,
    -- dates
    valid_from,
    coalesce(valid_to, date '9999-12-31') as valid_to,
    hire_date,
    probation_end,
    termination_date
from raw_operators
