-- Operator-only cell columns over the merged inputs `m`: occupancy, and the QA and pay figures
case when m.occupancy_den_ms > 0 then cast(m.occupancy_num_ms as double) / m.occupancy_den_ms end as occupancy,
m.occupancy_num_ms,
m.occupancy_den_ms,
-- filled by the QA and pay issues
cast(null as double) as qa_score,
cast(0 as bigint) as qa_n,
cast(null as bigint) as bonus_eligible_contacts
