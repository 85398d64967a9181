-- One row per team: timezone of its marts, holiday country and weekly business hours
with source as (
    select * from raw_teams
),

renamed as (
    select
        -- ids
        team_id,
        -- attributes
        name as team_name,
        timezone,
        upper(trim(holiday_country)) as holiday_country,
        business_hours
    from source
)

select * from renamed
