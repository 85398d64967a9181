-- One row per (dimension, dimension value, contact) that team, tier or channel handled, or owns with unattributed CSAT
-- touch: local_date
-- Team FCR (DESIGN §4): den = eligible inbound contacts whose handling by the group ended resolved
-- or handed out of it (its last segment ended resolved, transfer or escalation; policy escalations
-- left out); num = resolved by the group, no repeat. Dated by the group's first segment (team
-- timezone). CSAT nobody could be credited with goes to the contact's owning team and its channel.
with policy_reasons as (
    select distinct value as reason_code from config_lists where key = 'fcr.policy_escalation_reasons'
),

handled as (
    select
        case when grouping(group_team_id) = 0 then 'team' when grouping(tier) = 0 then 'tier' else 'channel' end
            as dimension,
        coalesce(group_team_id, tier, channel) as dimension_value,
        contact_type,
        contact_id,
        -- the group's first segment dates the contact; its last segment says how the group let it go
        arg_min(team_local_date, started_at) as local_date,
        arg_max(end_reason, started_at) as last_end_reason,
        bool_or(provisional) as provisional
    from segment_facts
    group by grouping sets (
        (group_team_id, contact_type, contact_id), (tier, contact_type, contact_id), (channel, contact_type, contact_id)
    )
),

unattributed as (
    select
        contact_type,
        contact_id,
        count(*) filter (where is_responded) as csat_scored_n,
        count(*) filter (where is_responded and is_top_box) as csat_top_box_n,
        cast(coalesce(sum(score_value) filter (where is_responded and scale = '1-5'), 0) as bigint) as csat_mean_num,
        count(*) filter (where is_responded and scale = '1-5') as csat_mean_den,
        count(*) filter (where is_sent) as csat_surveys_sent_n,
        count(*) filter (where is_sent and is_responded) as csat_responded_sent_n
    from int_csat__attribution
    where segment_id is null
    group by contact_type, contact_id
),

unattributed_groups as (
    select 'team' as dimension, c.team_id as dimension_value, c.local_date, c.provisional, u.*
    from unattributed as u
    inner join contact_facts as c on c.contact_type = u.contact_type and c.contact_id = u.contact_id
    where c.team_id is not null
    union all
    select 'channel' as dimension, c.channel as dimension_value, c.local_date, c.provisional, u.*
    from unattributed as u
    inner join contact_facts as c on c.contact_type = u.contact_type and c.contact_id = u.contact_id
),

merged as (
    select
        coalesce(h.dimension, u.dimension) as dimension,
        coalesce(h.dimension_value, u.dimension_value) as dimension_value,
        coalesce(h.contact_type, u.contact_type) as contact_type,
        coalesce(h.contact_id, u.contact_id) as contact_id,
        coalesce(h.local_date, u.local_date) as local_date,
        h.contact_id is not null as is_handled,
        h.last_end_reason,
        coalesce(u.csat_top_box_n, 0) as unattributed_csat_top_box_n,
        coalesce(u.csat_scored_n, 0) as unattributed_csat_scored_n,
        coalesce(u.csat_mean_num, 0) as unattributed_csat_mean_num,
        coalesce(u.csat_mean_den, 0) as unattributed_csat_mean_den,
        coalesce(u.csat_surveys_sent_n, 0) as unattributed_csat_surveys_sent_n,
        coalesce(u.csat_responded_sent_n, 0) as unattributed_csat_responded_sent_n,
        coalesce(h.provisional, false) or coalesce(u.provisional, false) as provisional
    from (select * from handled where dimension_value is not null) as h
    full outer join unattributed_groups as u
        on u.dimension = h.dimension and u.dimension_value = h.dimension_value
        and u.contact_type = h.contact_type and u.contact_id = h.contact_id
),

eligibility as (
    select
        m.*,
        m.is_handled
            and c.direction = 'inbound'
            and c.is_customer_eligible
            and m.last_end_reason in ('resolved', 'transfer', 'escalation')
            and not (m.last_end_reason = 'escalation' and pr.reason_code is not null) as is_fcr_eligible,
        c.has_repeat
    from merged as m
    inner join contact_facts as c on c.contact_type = m.contact_type and c.contact_id = m.contact_id
    left join policy_reasons as pr on pr.reason_code = c.reason_code
)

select
    dimension,
    dimension_value,
    contact_type,
    contact_id,
    local_date,
    is_handled,
    last_end_reason,
    is_fcr_eligible,
    is_fcr_eligible and last_end_reason = 'resolved' and not has_repeat as is_fcr_resolved,
    unattributed_csat_top_box_n,
    unattributed_csat_scored_n,
    unattributed_csat_mean_num,
    unattributed_csat_mean_den,
    unattributed_csat_surveys_sent_n,
    unattributed_csat_responded_sent_n,
    provisional
from eligibility
