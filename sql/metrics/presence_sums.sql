-- Sums over operator presence days `p` of one operator cell: the occupancy inputs of metrics/cell_rates.sql.
-- Work counts only on days with logged-in time, so static queue members (no login events) get null occupancy.
cast(coalesce(sum(p.occupancy_num_ms) filter (where p.occupancy_den_ms > 0), 0) as bigint) as occupancy_num_ms,
cast(coalesce(sum(p.occupancy_den_ms), 0) as bigint) as occupancy_den_ms
