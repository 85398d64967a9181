-- One row per CSAT response, its score read on its scale: top box (1–5 → 4–5, good_bad → good, 0–10 → 9–10)
with source as (
    select * from raw_csat_responses
),

scored as (
    select
        *,
        try_cast(trim(score) as double) as score_number,
        lower(trim(score)) as score_text
    from source
),

renamed as (
    select
        -- ids
        response_id,
        survey_id,
        contact_type,
        contact_id,
        -- attributes
        scale,
        language,
        case
            when scale = '1-5' and score_number in (1, 2, 3, 4, 5) then cast(score_number as integer)
            when scale = '0-10' and score_number in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) then cast(score_number as integer)
            when scale = 'good_bad' and score_text = 'good' then 1
            when scale = 'good_bad' and score_text = 'bad' then 0
        end as score_value,
        -- timestamps
        received_at,
        _loaded_at
    from scored
)

select
    *,
    score_value is not null as is_scored,
    case
        when scale = '1-5' then score_value >= 4
        when scale = '0-10' then score_value >= 9
        when scale = 'good_bad' then score_value = 1
    end as is_top_box
from renamed
