-- One row per operator segment with CSAT attributed to it: scored and top-box responses, 1–5 score sums, surveys sent
select
    segment_id,
    count(*) filter (where is_responded) as csat_scored_n,
    count(*) filter (where is_responded and is_top_box) as csat_top_box_n,
    cast(coalesce(sum(score_value) filter (where is_responded and scale = '1-5'), 0) as bigint) as csat_mean_num,
    count(*) filter (where is_responded and scale = '1-5') as csat_mean_den,
    count(*) filter (where is_sent) as csat_surveys_sent_n,
    count(*) filter (where is_sent and is_responded) as csat_responded_sent_n
from int_csat__attribution
where segment_id is not null
group by segment_id
