-- Sums over team contact facts `tc` of one team, tier or channel cell: handled contacts, FCR (team
-- definition) and the CSAT no operator could be credited with.
count(tc.contact_id) filter (where tc.is_handled) as team_contacts_handled,
count(tc.contact_id) filter (where tc.is_fcr_eligible) as team_fcr_den,
count(tc.contact_id) filter (where tc.is_fcr_resolved) as team_fcr_num,
cast(coalesce(sum(tc.unattributed_csat_top_box_n), 0) as bigint) as unattributed_csat_top2_num,
cast(coalesce(sum(tc.unattributed_csat_scored_n), 0) as bigint) as unattributed_csat_top2_den,
cast(coalesce(sum(tc.unattributed_csat_mean_num), 0) as bigint) as unattributed_csat_mean_num,
cast(coalesce(sum(tc.unattributed_csat_mean_den), 0) as bigint) as unattributed_csat_mean_den,
cast(coalesce(sum(tc.unattributed_csat_responded_sent_n), 0) as bigint) as unattributed_csat_response_num,
cast(coalesce(sum(tc.unattributed_csat_surveys_sent_n), 0) as bigint) as unattributed_csat_response_den,
coalesce(bool_or(tc.provisional), false) as contacts_provisional
