-- One row per operator and local date with presence or work: occupancy numerator and denominator (ms)
-- touch: local_date
-- Work = phone handle (reported components) + chat effective handle + ticket tracked time of the
-- segments dated that day; available = logged-in − paused (pauses for wrap reasons are work).
with work as (
    select
        operator_id,
        local_date,
        cast(
            coalesce(sum(handle_ms) filter (where contact_type = 'call'), 0)
            + coalesce(sum(chat_effective_ms), 0)
            + coalesce(sum(email_tracked_ms), 0)
            as bigint) as occupancy_num_ms
    from segment_facts
    where operator_id is not null
    group by operator_id, local_date
)

select
    coalesce(p.operator_id, w.operator_id) as operator_id,
    coalesce(p.local_date, w.local_date) as local_date,
    coalesce(p.logged_in_ms, 0) as logged_in_ms,
    coalesce(p.paused_ms, 0) as paused_ms,
    coalesce(p.logged_in_ms - p.paused_ms, 0) as occupancy_den_ms,
    coalesce(w.occupancy_num_ms, 0) as occupancy_num_ms
from int_occupancy__operator_days as p
full outer join work as w on w.operator_id = p.operator_id and w.local_date = p.local_date
