-- One row per Zendesk ticket with Zendesk's own metric minutes (from its metric sets), beside the ticket's status
-- Zendesk's reply and resolution minutes as Zendesk computed them (calendar and its own business
-- schedule), kept only to reconcile with ours: `opkpi report reconcile --source zendesk`. The table
-- raw_zendesk_source_metrics is written by the zendesk dialect (pipeline/ingest/dialects/zendesk.py);
-- merged and deleted tickets keep their status here so the reconciliation can leave them out.
with source as (
    select * from raw_zendesk_source_metrics
),

renamed as (
    select
        -- ids
        s.ticket_id,
        s.metric_set_id,
        -- attributes
        t.status,
        t.channel,
        -- numerics: Zendesk minutes, calendar and business
        s.reply_time_calendar_min,
        s.reply_time_business_min,
        s.first_resolution_calendar_min,
        s.first_resolution_business_min,
        s.full_resolution_calendar_min,
        s.full_resolution_business_min,
        s.agent_wait_calendar_min,
        s.agent_wait_business_min,
        s.requester_wait_calendar_min,
        s.requester_wait_business_min,
        s.on_hold_calendar_min,
        s.on_hold_business_min,
        s.reply_time_calendar_s,
        s.replies as replies_n,
        s.reopens as reopens_n,
        -- timestamps
        s.solved_at,
        s.metric_updated_at
    from source as s
    left join stg_tickets as t on t.ticket_id = s.ticket_id
)

select * from renamed
