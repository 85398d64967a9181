-- One row per ticket (its latest state), tracked time in ms
with source as (
    select * from raw_tickets
),

renamed as (
    select
        -- ids
        ticket_id,
        queue_id,
        assignee_id,
        coalesce(source_system, 'canonical') as source_system,
        customer_key,
        customer_key_source,
        follow_up_of,
        -- attributes
        channel,
        direction,
        status,
        reason_code,
        language,
        coalesce(is_auto_reply, false) as is_auto_reply,
        -- numerics
        cast(round(tracked_time_s * 1000) as bigint) as tracked_ms,
        -- timestamps
        created_at,
        updated_at,
        _loaded_at
    from source
)

select * from renamed
