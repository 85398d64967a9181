-- Queue cell columns over the merged inputs `m` (DESIGN §4 Queues): SL = answered within T /
-- (offered − short abandons); abandon rate = (abandoned − short) / (offered − short); ASA = Σ wait of
-- answered / answered; all volume-weighted, recomputed from stints for any period.
m.offered,
m.answered,
m.abandoned,
m.short_abandoned,
m.timeout,
m.key_exit,
m.empty,
m.in_progress_n,
case when m.offered - m.short_abandoned > 0 then cast(m.service_level_num as double) / (m.offered - m.short_abandoned) end
    as service_level,
m.service_level_num,
m.offered - m.short_abandoned as service_level_den,
case when m.asa_den > 0 then cast(m.asa_num_ms as double) / m.asa_den end as asa_ms,
m.asa_num_ms,
m.asa_den,
case
    when m.offered - m.short_abandoned > 0
        then cast(m.abandoned - m.short_abandoned as double) / (m.offered - m.short_abandoned)
end as abandon_rate,
m.abandoned - m.short_abandoned as abandon_num,
m.offered - m.short_abandoned as abandon_den
