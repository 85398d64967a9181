-- One row per queue: channel, owning team, timezone and service-level threshold (its own, else queues.sl_threshold_s)
with source as (
    select * from raw_queues
),

params as (
    select max(case when key = 'queues.sl_threshold_s' then cast(value as bigint) end) as sl_threshold_s
    from config_values
),

renamed as (
    select
        -- ids
        s.queue_id,
        s.team_id,
        -- attributes
        s.channel,
        s.timezone,
        -- numerics
        coalesce(s.sl_threshold_s, p.sl_threshold_s) as sl_threshold_s
    from source as s
    cross join params as p
)

select * from renamed
