-- One row per operator segment: the operator's first reply time (their assignment or accept → their first public reply after it)
select
    segment_id,
    case
        when contact_type in ('chat', 'ticket') and first_reply_at >= assigned_at
            then date_diff('millisecond', assigned_at, first_reply_at)
    end as operator_first_reply_ms
from int_segments__segments
