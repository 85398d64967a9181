-- One row per queue, with its effective service-level threshold
select * from stg_queues
